"""Run an ASGI app with uvicorn in a background thread (for daemons that own the main thread)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn


class WebThread:
    """A uvicorn server on its own thread; ``start`` returns once it listens."""

    def __init__(self, app: object, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Bind (port 0 picks a free one) and serve."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        cfg = uvicorn.Config(self.app, log_level="warning", access_log=False,  # type: ignore[arg-type]
                             lifespan="off")
        self._server = uvicorn.Server(cfg)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"HTTP server on {self.host}:{self.port} did not start")
            time.sleep(0.01)

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Ask uvicorn to exit and join."""
        if self._server:
            self._server.should_exit = True
        if self._thread:
            self._thread.join(5)
