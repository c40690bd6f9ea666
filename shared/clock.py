"""Clocks: the wall clock, and a virtual clock that several processes share through a file.

Business time (lock expiry, event timestamps, de-duplication) comes from a :class:`Clock`.
Physical timing (Modbus timeouts, the boom's rise time) always uses ``time.monotonic``.
The scenario runner moves the virtual clock of the cloud and the edge together by rewriting
one small JSON file holding an offset from real time; readers re-read it when its mtime changes.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    """Source of business time."""

    def now(self) -> datetime:
        """Return the current aware UTC time."""
        ...


class SystemClock:
    """The machine's wall clock."""

    def now(self) -> datetime:
        """Return the current aware UTC time."""
        return datetime.now(UTC)


class FileClock:
    """Real time shifted by an offset read from a JSON file ``{"offset_s": float}``."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()
        self._mtime_ns = -1
        self._offset = 0.0

    def _refresh(self) -> None:
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            return
        if st.st_mtime_ns != self._mtime_ns:
            with self._lock:
                try:
                    data = json.loads(self._path.read_text())
                    self._offset = float(data.get("offset_s", 0.0))
                    self._mtime_ns = st.st_mtime_ns
                except (ValueError, OSError):
                    # A half-written file is retried on the next call.
                    pass

    def now(self) -> datetime:
        """Return real time plus the file's offset."""
        self._refresh()
        return datetime.fromtimestamp(time.time() + self._offset, UTC)

    # Writers -----------------------------------------------------------------------------
    @staticmethod
    def write_offset(path: Path, offset_s: float) -> None:
        """Atomically set the offset every reader of *path* sees."""
        path = Path(path)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"offset_s": offset_s}))
        os.replace(tmp, path)
        # mtime granularity can hide two writes within one tick; bump it explicitly.
        now_ns = time.time_ns()
        os.utime(path, ns=(now_ns, now_ns))

    @classmethod
    def set_time(cls, path: Path, when: datetime) -> None:
        """Make the virtual clock read *when* now."""
        cls.write_offset(path, when.timestamp() - time.time())

    @classmethod
    def advance(cls, path: Path, delta: timedelta) -> None:
        """Move the virtual clock forward by *delta*."""
        try:
            offset = float(json.loads(Path(path).read_text()).get("offset_s", 0.0))
        except (FileNotFoundError, ValueError):
            offset = 0.0
        cls.write_offset(path, offset + delta.total_seconds())


def clock_from(path: str | Path | None) -> Clock:
    """A :class:`FileClock` when *path* is given, else the system clock."""
    return FileClock(Path(path)) if path else SystemClock()


def parse_duration(text: str | int | float) -> timedelta:
    """Parse ``90``, ``"90s"``, ``"10m"``, ``"2h"``, ``"3d"`` or ``"1h30m"`` into a timedelta."""
    if isinstance(text, int | float):
        return timedelta(seconds=float(text))
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    s = text.strip().lower()
    total = 0.0
    num = ""
    i = 0
    if not s:
        raise ValueError("empty duration")
    while i < len(s):
        ch = s[i]
        if ch.isdigit() or ch == ".":
            num += ch
            i += 1
            continue
        unit = "ms" if s.startswith("ms", i) else ch
        if unit not in units or not num:
            raise ValueError(f"bad duration {text!r}: use e.g. 90s, 10m, 2h, 3d, 1h30m")
        total += float(num) * units[unit]
        num = ""
        i += len(unit)
    if num:
        total += float(num)
    return timedelta(seconds=total)
