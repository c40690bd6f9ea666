"""The edge's SQLite file: schema migrations; connections come from ThreadLocalDB."""

from __future__ import annotations

from pathlib import Path

from shared.db import ThreadLocalDB, sql_migration

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
    sql_migration("003_tags_by_vehicle", "CREATE INDEX tags_vrn ON tags(vrn)"),
    sql_migration(
        "004_commands",
        """
        ALTER TABLE cloud_gates ADD COLUMN command_key TEXT;
        CREATE TABLE commands_seen (id TEXT PRIMARY KEY, at TEXT NOT NULL) WITHOUT ROWID
        """,
    ),
    sql_migration(
        "005_accounts",
        """
        CREATE TABLE accounts (
            username TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('guard', 'supervisor')),
            pw_hash TEXT NOT NULL, failures INTEGER NOT NULL DEFAULT 0, locked_until TEXT,
            source TEXT NOT NULL, created_at TEXT NOT NULL
        ) WITHOUT ROWID
        """,
    ),
    sql_migration(
        "006_panel",
        """
        ALTER TABLE accounts ADD COLUMN site TEXT;
        CREATE TABLE journal (
            id TEXT PRIMARY KEY, gate TEXT NOT NULL, type TEXT NOT NULL, at TEXT NOT NULL,
            outcome TEXT, reason TEXT, vrn TEXT, credential TEXT, payload TEXT NOT NULL
        );
        CREATE INDEX journal_at ON journal(at)
        """,
    ),
    sql_migration(
        "007_parking",
        """
        ALTER TABLE cloud_gates ADD COLUMN parking TEXT;
        CREATE TABLE parkings (
            site TEXT NOT NULL, id TEXT PRIMARY KEY, active INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE subscriptions (
            id TEXT PRIMARY KEY, site TEXT NOT NULL, parking TEXT NOT NULL, space INTEGER NOT NULL,
            status TEXT NOT NULL, unit TEXT NOT NULL, start TEXT NOT NULL, end TEXT NOT NULL,
            paid_through TEXT NOT NULL, continued INTEGER NOT NULL,
            debt_price INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID;
        CREATE INDEX subscriptions_site ON subscriptions(site);
        CREATE TABLE sub_vehicles (
            sub TEXT NOT NULL, vrn TEXT NOT NULL, PRIMARY KEY (vrn, sub)
        ) WITHOUT ROWID;
        CREATE INDEX sub_vehicles_sub ON sub_vehicles(sub)
        """,
    ),
    sql_migration("008_vehicle_flat", "ALTER TABLE vehicles ADD COLUMN flat TEXT"),
    sql_migration(
        "009_lanes",
        """
        CREATE TABLE lane_held (
            gate TEXT NOT NULL, key TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT NOT NULL,
            vrn TEXT, decided_at TEXT NOT NULL, seen_at TEXT NOT NULL, PRIMARY KEY (gate, key)
        ) WITHOUT ROWID;
        CREATE TABLE lane_awaiting (
            gate TEXT PRIMARY KEY, vrn TEXT, at TEXT NOT NULL, decision TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE open_intents (
            decision TEXT PRIMARY KEY, gate TEXT NOT NULL, at TEXT NOT NULL, vrn TEXT,
            key TEXT NOT NULL, reason TEXT NOT NULL
        ) WITHOUT ROWID
        """,
    ),
    # The cloud's rules history the cached version belongs to ('': a cloud before epochs;
    # '!resync': `gatepost edge resync` asked for a snapshot while the daemon was stopped).
    sql_migration("010_rules_epoch",
                  "ALTER TABLE site_rules ADD COLUMN epoch TEXT NOT NULL DEFAULT ''"),
]


class EdgeDB(ThreadLocalDB):
    """The edge's cache and outbox file."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, MIGRATIONS)
