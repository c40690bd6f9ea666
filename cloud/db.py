"""The cloud's SQLite schema."""

from __future__ import annotations

from pathlib import Path

from shared.db import ThreadLocalDB, sql_migration

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
    sql_migration(
        "003_remote_open",
        """
        ALTER TABLE gates ADD COLUMN command_key TEXT;
        CREATE TABLE edge_gates (
            site TEXT NOT NULL, gate TEXT NOT NULL, edge TEXT NOT NULL, at TEXT NOT NULL,
            PRIMARY KEY (site, gate)
        )
        """,
    ),
    sql_migration(
        "004_panel_accounts",
        """
        CREATE TABLE accounts (
            site TEXT NOT NULL REFERENCES sites(id), username TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('guard', 'supervisor')), pw_hash TEXT NOT NULL,
            created_at TEXT NOT NULL, PRIMARY KEY (site, username)
        )
        """,
    ),
]


class CloudDB(ThreadLocalDB):
    """The cloud's database file."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, MIGRATIONS)
