"""The cloud's SQLite schema and connection handling."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.db import connect, migrate, sql_migration

MIGRATIONS = [
    sql_migration(
        "001_sites_and_rules",
        """
        CREATE TABLE sites (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, rules_version INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        );
        CREATE TABLE gates (
            site TEXT NOT NULL REFERENCES sites(id), id TEXT NOT NULL, direction TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '', PRIMARY KEY (site, id)
        );
        CREATE TABLE vehicles (
            site TEXT NOT NULL REFERENCES sites(id), vrn TEXT NOT NULL, type TEXT NOT NULL,
            created_at TEXT NOT NULL, PRIMARY KEY (site, vrn)
        );
        CREATE TABLE tags (
            epc TEXT PRIMARY KEY, site TEXT NOT NULL REFERENCES sites(id), status TEXT NOT NULL,
            vrn TEXT, vehicle_type TEXT, locked INTEGER NOT NULL DEFAULT 0, locked_until TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX tags_site ON tags(site);
        CREATE TABLE rule_changes (
            site TEXT NOT NULL, version INTEGER NOT NULL, changes TEXT NOT NULL,
            at TEXT NOT NULL, PRIMARY KEY (site, version)
        )
        """,
    ),
    sql_migration(
        "002_events",
        """
        CREATE TABLE events (
            site TEXT NOT NULL, id TEXT NOT NULL, edge TEXT NOT NULL, gate TEXT NOT NULL,
            seq INTEGER NOT NULL, type TEXT NOT NULL, at TEXT NOT NULL, data TEXT NOT NULL,
            received_at TEXT NOT NULL, PRIMARY KEY (site, id)
        );
        CREATE INDEX events_query ON events(site, type, at);
        CREATE TABLE edges (
            id TEXT PRIMARY KEY, availability TEXT NOT NULL, at TEXT NOT NULL
        )
        """,
    ),
]


class CloudDB:
    """Thread-local connections to one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        migrate(self.conn, MIGRATIONS)

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection."""
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._local.conn = connect(self.path)
            with self._lock:
                self._all.append(c)
        return c

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """An immediate write transaction."""
        c = self.conn
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
        """Close every connection."""
        with self._lock:
            conns, self._all = self._all, []
        for c in conns:
            try:
                c.close()
            except sqlite3.Error:
                pass
