"""One SQLAlchemy engine for the cloud: SQLite (the embedded default) or PostgreSQL.

Everything that differs between the two lives here or in :mod:`cloud.storage.dialect`:
connection pragmas, how a write transaction begins, and how a URL is spelled.
"""

from __future__ import annotations

import os
import select
import threading
from collections import deque
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import StaticPool

SQLITE_FILE = "cloud.sqlite"


def database_url(db: str | Path) -> str:
    """A SQLAlchemy URL for *db*: a URL as given, a file path as ``sqlite:///path``.

    ``postgresql://`` and ``postgres://`` are served by psycopg 3; ``:memory:`` is an
    in-memory SQLite database (tests).
    """
    text = str(db)
    if text == ":memory:":
        return "sqlite://"
    if "://" not in text:
        return f"sqlite:///{Path(text).absolute()}"
    for prefix in ("postgresql://", "postgres://"):
        if text.startswith(prefix):
            return "postgresql+psycopg://" + text[len(prefix):]
    return text


def default_db(data_dir: Path) -> str:
    """``$GATEPOST_DB`` when set, else the SQLite file in *data_dir*."""
    return os.environ.get("GATEPOST_DB") or str(data_dir / SQLITE_FILE)


def redact(url: str) -> str:
    """*url* with its password hidden, for logs and messages."""
    return make_url(database_url(url)).render_as_string(hide_password=True)


def make_engine(db: str | Path) -> Engine:
    """An engine for *db* (a path or a URL), set up for the cloud's transactions."""
    url = make_url(database_url(db))
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if url.get_backend_name() == "postgresql":
        return _postgres_engine(url)
    raise ValueError(f"unsupported database {url.get_backend_name()!r}: use a SQLite file "
                     "or postgresql://")


def _postgres_engine(url: Any) -> Engine:
    engine = create_engine(url, pool_size=10, max_overflow=20)

    @event.listens_for(engine, "checkout")
    def _alive(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        # A connection at rest in the pool has nothing to read: the server speaks to it
        # unasked only to end it (a restart, a failover, an idle timeout), and a closed socket
        # reads as end-of-file. Either way the pool drops it and checks out another. This
        # costs no round trip, unlike SQLAlchemy's pre-ping (a ``SELECT 1`` per checkout,
        # a quarter of the event writer's time under load).
        if dbapi_conn.closed or select.select([dbapi_conn.fileno()], [], [], 0)[0]:
            raise DisconnectionError("the server closed the connection")

    return engine


def _sqlite_engine(url: Any) -> Engine:
    memory = url.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 5.0}}
    if memory:
        # One connection shared by every thread, so they all see the same tables.
        kwargs["poolclass"] = StaticPool
    else:
        kwargs.update(pool_size=8, max_overflow=16)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own BEGIN handling is switched off: the "begin" hook below says how.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=5000")
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL survives a killed process; only a power cut may lose the last commits.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # A write takes SQLite's one writer lock up front, so a read-then-write never fails
        # half-way with "database is locked": this is what makes writes one at a time.
        write = conn.get_execution_options().get("gatepost_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class WriterTurns:
    """SQLite's one writer lock, handed out in the order the threads of this process ask.

    SQLite lets a waiting writer poll (every 100 ms, once it has waited a while) and gives the
    lock to whoever asks the moment it is free: a writer that commits and begins again at
    once (an import, chunk after chunk) keeps it, and the others time out with "database is
    locked". Here a writer that finds the lock taken queues, and the holder hands it to the
    first in the queue when it is done. Other processes on the same file still meet SQLite's
    busy timeout.
    """

    def __init__(self, wait_s: float = 30.0) -> None:
        self.wait_s = wait_s
        self._lock = threading.Lock()
        self._held = False
        self._queue: deque[threading.Lock] = deque()

    def __enter__(self) -> WriterTurns:
        with self._lock:
            if not self._held:
                self._held = True
                return self
            mine = threading.Lock()
            mine.acquire()
            self._queue.append(mine)
        if mine.acquire(timeout=self.wait_s):
            return self  # handed over by the holder
        with self._lock:
            if mine in self._queue:
                self._queue.remove(mine)
                raise TimeoutError(f"no turn to write within {self.wait_s:g} s")
        return self  # handed over just as the wait ran out

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            if self._queue:
                self._queue.popleft().release()  # still held: by the next in the queue
            else:
                self._held = False
