"""The health of a lane's devices: reader and relay board, each up, down or not known yet.

A device starts unknown. It becomes up when it first answers (silently: nothing to report),
and down only on a failure after that, or once it has not answered ``device_wait_s`` after
start (a reader dead at boot is reported, not shown as unknown for ever). Each transition
after the first is reported once.
"""

from __future__ import annotations


class Devices:
    """States and pending boot waits of one lane's devices."""

    def __init__(self) -> None:
        self.state: dict[str, bool | None] = {"reader": None, "relay": None, "keypad": None}
        self._waiting: dict[str, tuple[float, str]] = {}

    def expect(self, devices: list[str], now: float) -> None:
        """These devices are wired: each must answer within the wait from *now*."""
        self._waiting = {d: (now, "not seen since start") for d in devices}

    def report(self, device: str, up: bool, why: str, now: float) -> tuple[bool, str] | None:
        """A device's answer; returns the transition to record, if any."""
        current = self.state[device]
        if up:
            self._waiting.pop(device, None)
            self.state[device] = True
            return (True, why) if current is False else None
        if current is False:
            return None
        if current is None:  # not yet: down only once the wait is over
            since = self._waiting.get(device, (now, why))[0]
            self._waiting[device] = (since, why or "no answer")
            return None
        self.state[device] = False
        return False, why

    def overdue(self, now: float, wait_s: float) -> list[tuple[str, str]]:
        """Devices still unknown *wait_s* after start: now down, with the last error."""
        out = []
        for device, (since, why) in list(self._waiting.items()):
            if self.state[device] is None and now - since >= wait_s:
                del self._waiting[device]
                self.state[device] = False
                out.append((device, why))
        return out
