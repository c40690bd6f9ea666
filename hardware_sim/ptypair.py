"""A virtual null-modem cable: two pseudo-terminals whose bytes are copied across.

Each end is a real tty device path that pyserial (and pymodbus's RTU server) can open.
"""

from __future__ import annotations

import os
import select
import threading
import tty


class PtyPair:
    """``a`` and ``b`` are device paths; what is written to one is read from the other."""

    def __init__(self) -> None:
        self._m1, self._s1 = os.openpty()
        self._m2, self._s2 = os.openpty()
        for fd in (self._s1, self._s2):
            tty.setraw(fd)
        self.a = os.ttyname(self._s1)
        self.b = os.ttyname(self._s2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="ptypair", daemon=True)

    def start(self) -> PtyPair:
        """Start copying."""
        self._thread.start()
        return self

    def _pump(self) -> None:
        other = {self._m1: self._m2, self._m2: self._m1}
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select(list(other), [], [], 0.1)
                for fd in ready:
                    os.write(other[fd], os.read(fd, 4096))
            except OSError:
                if self._stop.wait(0.01):
                    return

    def stop(self) -> None:
        """Stop and close all four descriptors."""
        self._stop.set()
        self._thread.join(2)
        for fd in (self._m1, self._s1, self._m2, self._s2):
            try:
                os.close(fd)
            except OSError:
                pass
