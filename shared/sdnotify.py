"""systemd notify protocol: one datagram to $NOTIFY_SOCKET (READY, WATCHDOG, STOPPING)."""

from __future__ import annotations

import os
import socket


def notify(state: str) -> bool:
    """Send *state* (e.g. ``"READY=1"``); False when not under systemd."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        try:
            s.sendto(state.encode(), addr)
        except OSError:
            return False
    return True


def watchdog_interval_s(default: float = 5.0) -> float:
    """Half of systemd's WatchdogSec, or *default* when no watchdog is set."""
    usec = os.environ.get("WATCHDOG_USEC")
    return int(usec) / 2e6 if usec and usec.isdigit() else default
