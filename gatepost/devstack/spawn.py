"""How a development stack starts its cloud and edge daemons: each a ``gatepost`` CLI command
in a process of its own, with its output in a log file.

By default a process is ``python -m gatepost.cli …``, exactly as an operator starts one. A test
run, which starts some sixty clouds and as many daemons per worker, may ask instead
(``fork_from_server(True)``) for processes forked from a server that imported the product once
(``multiprocessing``'s forkserver): each is the same command in a fresh process of its own
(its own pid, signals, sockets, database connections and exit code), minus the 1–2 s of CPU that
importing the cloud or the edge costs every new interpreter. Benchmarks keep the default: a
forked process's memory includes what the server imported for both daemons.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import runpy
import signal
import subprocess
import sys
import threading
from multiprocessing.context import ForkServerContext, ForkServerProcess
from pathlib import Path
from typing import Protocol

# What the server imports once: the cloud's app and the edge's daemon, with what they import.
PRELOAD = ["gatepost.cli", "cloud.app", "cloud.service", "edge.daemon.service"]

_fork = False
_context: ForkServerContext | None = None


class StackProcess(Protocol):
    """What a stack does with one of its processes (``subprocess.Popen`` has it all)."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def send_signal(self, sig: int) -> None: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...


def fork_from_server(enabled: bool) -> None:
    """Start later processes forked from the import server (True) or as new interpreters."""
    global _fork
    _fork = enabled


def spawn(args: list[str], env: dict[str, str], log_path: Path) -> StackProcess:
    """Run ``gatepost *args`` in a new process with *env*, its output appended to *log_path*.
    (A forked one reads *env* as the command does; what an interpreter reads only at its own
    start, ``PYTHON*`` variables, comes from the server's.)"""
    if not _fork:
        with open(log_path, "ab") as log:
            return subprocess.Popen([sys.executable, "-m", "gatepost.cli", *args],
                                    stdout=log, stderr=subprocess.STDOUT, env=env)
    return Forked(args, env, log_path)


def _server() -> ForkServerContext:
    global _context
    if _context is None:
        ctx = multiprocessing.get_context("forkserver")
        assert isinstance(ctx, ForkServerContext)
        ctx.set_forkserver_preload(PRELOAD)
        # multiprocessing joins the processes it started when this one exits: one a test left
        # running would hang the exit, where a Popen would be left behind. Kill those first
        # (a finalizer of a higher priority runs before multiprocessing's own exit work).
        multiprocessing.util.Finalize(None, _kill_leftovers, exitpriority=100)
        _context = ctx
    return _context


_running: set[Forked] = set()


def _kill_leftovers() -> None:
    for proc in list(_running):
        proc.kill()
        proc.wait(10)


def _run_cli(args: list[str], env: dict[str, str], log_path: str) -> None:
    """The forked process: the command's environment and log, then the CLI as ``python -m
    gatepost.cli`` would run it."""
    os.environ.clear()
    os.environ.update(env)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.argv = [sys.executable, *args]
    runpy.run_module("gatepost.cli", run_name="__main__", alter_sys=True)


class Forked:
    """A process forked from the import server, answering as ``subprocess.Popen`` does."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self._proc: ForkServerProcess = _server().Process(
            target=_run_cli, args=(args, env, str(log_path)), name=f"gatepost {args[0]}",
            daemon=False)
        self._proc.start()
        assert self._proc.pid is not None
        self.pid: int = self._proc.pid
        self.args = args
        self._code: int | None = None
        self._lock = threading.Lock()  # the exit code is read from a pipe: one reader at once
        _running.add(self)

    @property
    def returncode(self) -> int | None:
        return self.poll()

    def poll(self) -> int | None:
        return self._ended(0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._ended(timeout)
        if code is None:
            raise subprocess.TimeoutExpired(["gatepost", *self.args], timeout or 0)
        return code

    def _ended(self, timeout: float | None) -> int | None:
        """The exit code once the process has ended (waiting up to *timeout* s; None: for as
        long as it takes); its pipes are closed then."""
        with self._lock:
            if self._code is None:
                self._proc.join(timeout)
                if self._proc.exitcode is not None:
                    self._code = self._proc.exitcode
                    self._proc.close()
                    _running.discard(self)
            return self._code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass  # it ended meanwhile, as Popen ignores

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)
