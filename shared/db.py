"""SQLite the sqlite-utils way: WAL, named migrations recorded in a table, each in a transaction."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    """A named schema step; applied once, in order, inside one transaction."""

    name: str
    apply: Callable[[sqlite3.Connection], None]


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open *path* with WAL and sane pragmas; ``":memory:"`` works for tests."""
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
    else:
        conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=5000")
    if not readonly and str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL survives a killed process; only a power cut may lose the last commits.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> list[str]:
    """Apply the migrations not yet recorded in ``_migrations``; return the names applied."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL"
        " DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
    )
    done = {r[0] for r in conn.execute("SELECT name FROM _migrations")}
    applied = []
    for m in migrations:
        if m.name in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            m.apply(conn)
            conn.execute("INSERT INTO _migrations (name) VALUES (?)", (m.name,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("applied migration %s", m.name)
        applied.append(m.name)
    return applied


def sql_migration(name: str, script: str) -> Migration:
    """A migration made of plain SQL statements separated by ``;``."""

    def apply(conn: sqlite3.Connection) -> None:
        for stmt in script.split(";"):
            if stmt.strip():
                conn.execute(stmt)

    return Migration(name, apply)


class ThreadLocalDB:
    """One connection per thread on one file (WAL lets readers run beside a writer).

    ``":memory:"`` becomes a named shared-cache memory database, so every thread sees the same
    tables; a keeper connection holds it open and runs the migrations.
    """

    def __init__(self, path: str | Path, migrations: Sequence[Migration]) -> None:
        self.path = str(path)
        if self.path == ":memory:":
            import uuid

            self.path = f"file:gatepost-{uuid.uuid4().hex}?mode=memory&cache=shared"
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._keeper = self._open()
        migrate(self._keeper, migrations)

    def _open(self) -> sqlite3.Connection:
        if self.path.startswith("file:"):
            conn = sqlite3.connect(self.path, uri=True, check_same_thread=False,
                                   isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout=5000")
        else:
            conn = connect(self.path)
        with self._lock:
            self._all.append(conn)
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection."""
        c: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if c is None:
            c = self._local.conn = self._open()
        return c

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """An immediate write transaction on this thread's connection. Writers of this
        process queue on a lock first: the next one starts the moment the last commits,
        instead of backing off in SQLite's busy handler (1, 2, 5, 10 … ms sleeps), which
        would put those sleeps into a gate's decision while the backlog's acks are written."""
        c = self.conn
        with self._write_lock:
            c.execute("BEGIN IMMEDIATE")
            try:
                yield c
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent read transaction."""
        c = self.conn
        c.execute("BEGIN")
        try:
            yield c
        finally:
            c.execute("COMMIT")

    def close(self) -> None:
        """Close every connection opened on any thread."""
        with self._lock:
            conns, self._all = self._all, []
        for c in conns:
            try:
                c.close()
            except sqlite3.Error:
                pass
