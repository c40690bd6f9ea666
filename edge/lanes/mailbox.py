"""One thread that handles messages in order: the lane's worker.

``post`` hands it a message and returns; ``call`` waits for the handler's answer (a future).
Between messages, and at least every ``tick_s``, ``tick`` runs (the lane's timers). A handler
that raises answers its caller with the exception and the thread goes on; a thread that dies
anyway (a ``BaseException``) is noticed by ``alive()`` and started again by the supervisor.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

log = logging.getLogger(__name__)


class Mailbox:
    """A queue and the thread that empties it."""

    def __init__(self, name: str, handle: Callable[[object], Any], tick: Callable[[], None],
                 *, tick_s: float = 0.2, on_error: Callable[[], None] | None = None) -> None:
        self.name, self.handle, self.tick, self.tick_s = name, handle, tick, tick_s
        self.on_error = on_error
        self.progress = time.monotonic()
        self.errors = 0
        self.restarts = 0
        self._inbox: queue.Queue[tuple[object, Future | None]] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def restart(self) -> None:
        """Start a thread that died (the supervisor's call)."""
        self.restarts += 1
        self.start()

    def alive(self) -> bool:
        """Whether the thread runs."""
        return bool(self._thread and self._thread.is_alive())

    @property
    def stopping(self) -> bool:
        """Whether ``stop`` was called."""
        return self._stop.is_set()

    def stop(self) -> None:
        """Stop the thread, answering whatever still waits."""
        self._stop.set()
        self._inbox.put((None, None))  # wake the thread now, not at its next tick
        if self._thread:
            self._thread.join(5)
        while True:
            try:
                _, fut = self._inbox.get_nowait()
            except queue.Empty:
                break
            if fut is not None and not fut.done():
                fut.set_exception(RuntimeError(f"{self.name} stopped"))

    def post(self, msg: object) -> None:
        """Queue a message; returns at once."""
        self._inbox.put((msg, None))

    def call(self, msg: object, timeout: float = 10.0) -> Any:
        """Queue a message and wait for the handler's answer."""
        fut: Future = Future()
        self._inbox.put((msg, fut))
        return fut.result(timeout)

    def size(self) -> int:
        """Messages waiting."""
        return self._inbox.qsize()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                msg, fut = self._inbox.get(timeout=self.tick_s)
            except queue.Empty:
                msg, fut = None, None
            self.progress = time.monotonic()
            if msg is not None:
                try:
                    result = self.handle(msg)
                    if fut is not None:
                        fut.set_result(result)
                except Exception as exc:  # one bad input must not stop the worker
                    self._failed()
                    log.exception("%s: handling %s failed", self.name, type(msg).__name__)
                    if fut is not None:
                        fut.set_exception(exc)
            try:
                self.tick()
            except Exception:
                self._failed()
                log.exception("%s: timers failed", self.name)

    def _failed(self) -> None:
        self.errors += 1
        if self.on_error:
            self.on_error()
