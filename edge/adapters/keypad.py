"""A keypad reader over OSDP (IEC 60839-11-5): the edge is the control panel (libosdp, CP
mode) on an RS-485 line (a serial device or a pyserial URL), with a secure channel under the
reader's SCBK.

Keys arrive as keypress events; a code is the keys typed before ``#`` (``*`` clears, and a code
left half-typed for ``idle_s`` is dropped). A card held to the reader arrives as a card read: it
is handed to ``on_card`` as the EPC it is registered under (``shared.cards``). Codes and cards
are handed on from a worker thread of this driver, never from libosdp's own thread (which holds
its lock while it calls back), and ``feedback`` answers on the reader (nothing for a card read
again while its open stands): LED green and one beep for an open, red and three beeps for
a refusal. ``on_state`` reports the reader online or offline (a device-down alert at the lane).
libosdp waits minutes before it polls a reader that went offline again; the driver asks it
every ``retry_s`` instead, so a reader put back on the line is back within seconds.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

import osdp
import serial

from shared.cards import card_epc
from shared.osdp_channel import ControlPanel, SerialChannel

log = logging.getLogger(__name__)


class OsdpKeypad:
    """One keypad reader of a gate."""

    def __init__(self, gate: str, url: str, address: int, scbk: bytes, *,
                 on_code: Callable[[str], bool], on_state: Callable[[bool, str], None],
                 on_card: Callable[[str], bool | None] | None = None, baud: int = 115200,
                 idle_s: float = 10.0, retry_s: float = 3.0) -> None:
        self.gate, self.url, self.address = gate, url, address
        self.on_code, self.on_state, self.on_card = on_code, on_state, on_card
        self.idle_s = idle_s
        self.retry_s = retry_s
        self._port = serial.serial_for_url(url, baud, timeout=0)
        self.cp = ControlPanel(
            [osdp.PDInfo(address, SerialChannel(self._port), scbk=scbk, name=f"keypad-{gate}")],
            log_level=osdp.LogLevel.Error, event_handler=self._event)
        self._keys: list[str] = []
        self._last_key = 0.0
        self._codes: queue.Queue[tuple[str, str] | None] = queue.Queue()  # (code | card, value)
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run, name=f"keypad-{gate}", daemon=True)
        self.progress = time.monotonic()
        self.entries = 0

    # Life cycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Poll the reader, and hand its codes on."""
        self.cp.start()
        self._worker.start()

    def stop(self) -> None:
        """Stop polling; codes typed meanwhile are dropped."""
        self._stop.set()
        self._codes.put(None)
        self._worker.join(5)
        self.cp.teardown()
        self._port.close()

    def last_progress(self) -> float:
        """When the worker last went round (``time.monotonic``): it does every 0.25 s."""
        return self.progress

    def alive(self) -> bool:
        """Whether the driver's worker runs (the supervisor's check)."""
        return self._worker.is_alive()

    # libosdp's thread ---------------------------------------------------------------------------
    def _event(self, pd: int, event: dict) -> int:
        if event.get("event") == osdp.Event.CardRead:
            data = bytes(event.get("data") or b"")
            try:
                bits = int(event.get("length") or 0) or len(data) * 8
                self._codes.put(("card", card_epc(bits, data)))
            except ValueError as exc:
                log.warning("keypad %s: a card read that is no card: %s", self.gate, exc)
            return 0
        if event.get("event") != osdp.Event.KeyPress:
            return 0
        now = time.monotonic()
        if self._keys and now - self._last_key > self.idle_s:
            self._keys.clear()  # a half-typed code left standing
        self._last_key = now
        for key in bytes(event.get("data") or b"").decode("ascii", "replace"):
            if key == "#":
                if self._keys:
                    self._codes.put(("code", "".join(self._keys)))
                self._keys.clear()
            elif key == "*":
                self._keys.clear()
            elif len(self._keys) < 16:
                self._keys.append(key)
        return 0

    # The driver's worker ----------------------------------------------------------------------
    def _run(self) -> None:
        online: bool | None = None
        down_since = time.monotonic()
        while not self._stop.is_set():
            try:
                item = self._codes.get(timeout=0.25)
            except queue.Empty:
                item = ("", "")
            self.progress = time.monotonic()
            up = bool(self.cp.is_online(self.address) and self.cp.is_sc_active(self.address))
            if up != online:
                online = up
                down_since = time.monotonic()
                self.on_state(up, "online, secure channel" if up else
                              "no answer on the OSDP line (offline or tampered)")
            elif not up and time.monotonic() - down_since > self.retry_s:
                down_since = time.monotonic()  # poll it again now, not in minutes
                self.cp.disable_pd(self.address)
                self.cp.enable_pd(self.address)
            if item is None:
                return
            kind, value = item
            if not value:
                continue
            self.entries += 1
            try:
                opened = self.on_card(value) if kind == "card" and self.on_card else \
                    self.on_code(value) if kind == "code" else False
            except Exception:  # a lane that cannot decide must not stop the keypad
                log.exception("keypad %s: the %s could not be decided", self.gate, kind)
                opened = False
            if opened is not None:
                self.feedback(opened)

    def feedback(self, opened: bool) -> None:
        """Flash the reader green (open) or red (refused), with a beep or three."""
        color = osdp.CommandLEDColor.Green if opened else osdp.CommandLEDColor.Red
        self.cp.submit_command(self.address, {
            "command": osdp.Command.LED, "reader": 0, "led_number": 0, "control_code": 1,
            "on_count": 10, "off_count": 0, "on_color": color,
            "off_color": osdp.CommandLEDColor.Black, "timer_count": 20, "temporary": True})
        self.cp.submit_command(self.address, {
            "command": osdp.Command.Buzzer, "reader": 0, "control_code": 2,
            "on_count": 2, "off_count": 1, "rep_count": 1 if opened else 3})
