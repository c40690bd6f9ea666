"""``gatepost edge run``: the daemon in the foreground with signals and systemd notify."""

from __future__ import annotations

import logging
import signal
import threading

from edge.api import create_app
from edge.config import EdgeConfig
from edge.daemon import EdgeDaemon
from shared.clock import clock_from
from shared.sdnotify import notify, watchdog_interval_s
from shared.webthread import WebThread

log = logging.getLogger(__name__)


def run(config: EdgeConfig) -> int:
    """Run until SIGTERM/SIGINT; READY after start, WATCHDOG from the main loop, STOPPING."""
    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        log.info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    daemon = EdgeDaemon(config, clock_from(config.clock_file))
    daemon.start()
    web = WebThread(create_app(daemon), config.api.host, config.api.port)
    web.start()
    log.info("edge API and live page at %s", web.url)
    print(f"gatepost edge {config.id}: panel at {web.url}", flush=True)
    notify(f"READY=1\nSTATUS=serving {len(config.gates)} gates")
    interval = watchdog_interval_s()
    while not stop.wait(interval):
        notify("WATCHDOG=1")
    notify("STOPPING=1")
    web.stop()
    daemon.stop()
    return 1 if daemon.failures else 0
