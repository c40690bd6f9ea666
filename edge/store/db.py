"""The edge's SQLite file: thread-local connections (WAL lets readers run beside a writer)."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.db import connect, migrate, sql_migration

MIGRATIONS = [
    sql_migration(
        "001_rules_cache",
        """
        CREATE TABLE site_rules (site TEXT PRIMARY KEY, version INTEGER NOT NULL);
        CREATE TABLE tags (
            epc TEXT PRIMARY KEY, site TEXT NOT NULL, status TEXT NOT NULL, vrn TEXT,
            locked INTEGER NOT NULL DEFAULT 0, locked_until TEXT
        ) WITHOUT ROWID;
        CREATE INDEX tags_site ON tags(site);
        CREATE TABLE vehicles (
            site TEXT NOT NULL, vrn TEXT NOT NULL, type TEXT NOT NULL, PRIMARY KEY (site, vrn)
        ) WITHOUT ROWID;
        CREATE TABLE cloud_gates (
            site TEXT NOT NULL, id TEXT NOT NULL, direction TEXT NOT NULL, name TEXT,
            PRIMARY KEY (site, id)
        ) WITHOUT ROWID
        """,
    ),
    sql_migration(
        "002_presence_and_outbox",
        """
        CREATE TABLE presence (vrn TEXT PRIMARY KEY, inside INTEGER NOT NULL, at TEXT NOT NULL)
            WITHOUT ROWID;
        CREATE TABLE gate_seq (gate TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE outbox (
            id TEXT PRIMARY KEY, gate TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL,
            payload TEXT NOT NULL, created_at TEXT NOT NULL
        )
        """,
    ),
]


class EdgeDB:
    """Opens one connection per thread on the same file; migrates on first use."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path == ":memory:":
            # Named shared-cache memory DB so every thread sees the same tables.
            self.path = f"file:gatepost-{uuid.uuid4().hex}?mode=memory&cache=shared"
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._keeper = self._open()  # keeps a memory DB alive; runs the migrations
        migrate(self._keeper, MIGRATIONS)

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
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._local.conn = self._open()
        return c

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on this thread's connection."""
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
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
