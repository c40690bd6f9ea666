"""``gatepost edge run``: the daemon in the foreground with signals and systemd notify."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import NoReturn

from edge.config import EdgeConfig
from edge.daemon.wiring import EdgeDaemon
from edge.faces.api import create_app
from shared.clock import clock_from
from shared.sdnotify import notify, watchdog_interval_s
from shared.webthread import WebThread

log = logging.getLogger(__name__)

SWITCH_INTERVAL_S = 0.001
EXIT_PORT_TAKEN = 3


def run(config: EdgeConfig) -> NoReturn:
    """Run until SIGTERM/SIGINT (or a worker dies past its restart budget); READY after
    start, WATCHDOG while every worker makes progress, STOPPING. Ends the process: 0, or 1
    when a part failed to stop or a worker died past its budget."""
    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        log.info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # A tag read crosses from its reader's thread to its lane's: hand the GIL over within
    # 1 ms instead of Python's default 5 ms, so a busy poller or HTTP thread cannot sit on a
    # decision (measured: docs/benchmarks.md, bench gate).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    daemon = EdgeDaemon(config, clock_from(config.clock_file))
    daemon.start()
    web = WebThread(create_app(daemon), config.api.host, config.api.port)
    try:
        web.start()
    except OSError as exc:  # the panel's port is taken: say so and stop, never hang
        log.error("cannot serve the panel on %s:%s: %s", config.api.host, config.api.port, exc)
        print(f"gatepost edge {config.id}: cannot serve the panel on {config.api.host}:"
              f"{config.api.port}: {exc}", file=sys.stderr, flush=True)
        daemon.stop()
        _leave(EXIT_PORT_TAKEN)
    log.info("edge API and live page at %s", web.url)
    print(f"gatepost edge {config.id}: panel at {web.url}", flush=True)
    notify(f"READY=1\nSTATUS=serving {len(config.gates)} gates")
    interval = min(watchdog_interval_s(), 1.0)
    while not stop.wait(interval):
        # Ping the watchdog only while every lane, reader, poller and the link make progress:
        # a stuck worker then gets the whole daemon restarted by systemd.
        if daemon.supervise():
            notify("WATCHDOG=1")
        if daemon.supervisor.exhausted:
            log.critical("stopping: %s", daemon.supervisor.exhausted)
            break
    notify("STOPPING=1")
    web.stop()
    daemon.stop()
    _leave(1 if daemon.failures else 0)


def _leave(code: int) -> NoReturn:
    """Exit with *code* once the daemon is stopped and its store written. Interpreter
    shutdown is skipped: it can hang on a library's daemon thread (seen: 30 s, then "FATAL:
    exception not rethrown"), and tearing down the loaded libraries alone took 0.6 s of every
    stop."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
