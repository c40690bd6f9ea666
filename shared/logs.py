"""Logging of the daemons and tools: plain lines, JSON lines for log shippers, and lines the
systemd journal understands.

- ``text``: ``2026-12-05 08:00:01,234 INFO edge.daemon.wiring: edge box-1 started with 2 gates``.
- ``json``: one object a line (python-json-logger): ``time`` (ISO 8601, UTC), ``level``,
  ``logger``, ``message``, ``exc_info`` when there is one, and any ``extra`` fields.
- Under systemd with stderr going to the journal (``$JOURNAL_STREAM`` names it), each line
  starts with its syslog priority (``<6>`` info, ``<4>`` warning, …; sd-daemon(3)) so
  ``journalctl -p warning`` filters by level, and text lines leave the time to the journal.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

FORMATS = ("text", "json")
# sd-daemon(3) priorities of Python's levels.
PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
            logging.CRITICAL: 2}
QUIET = {"pymodbus": logging.CRITICAL, "httpx": logging.WARNING, "httpcore": logging.WARNING,
         "apscheduler": logging.WARNING}


def under_journald(stream: TextIO | None = None) -> bool:
    """Whether *stream* (stderr) is connected to the systemd journal."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    if not expected:
        return False
    try:
        st = os.fstat((stream or sys.stderr).fileno())
    except (OSError, ValueError):
        return False
    return expected == f"{st.st_dev}:{st.st_ino}"


class JournalPrefix(logging.Formatter):
    """Another formatter's lines, each starting with the record's syslog priority."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{PRIORITY.get(record.levelno, 6)}>"
        return prefix + self.inner.format(record).replace("\n", "\n" + prefix)


def formatter(fmt: str, journald: bool) -> logging.Formatter:
    """The formatter for *fmt* (``text`` or ``json``), prefixed for the journal."""
    if fmt == "json":
        inner: logging.Formatter = JsonFormatter(
            "%(levelname)s %(name)s %(message)s", timestamp="time",
            rename_fields={"levelname": "level", "name": "logger"})
    elif journald:
        inner = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    else:
        inner = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    return JournalPrefix(inner) if journald else inner


def setup_logging(level: str | int, fmt: str = "text") -> None:
    """Log to stderr at *level* in *fmt*; libraries' chatter is kept down."""
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt, under_journald()))
    handler.set_name("gatepost")
    root = logging.getLogger()
    for old in list(root.handlers):  # ours from an earlier call; others' stay (pytest's)
        if old.get_name() == "gatepost":
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(quiet)
