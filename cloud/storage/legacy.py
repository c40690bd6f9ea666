"""The cloud's schema as it was before Alembic: named SQLite migrations 001–009.

A SQLite file made by those releases is brought to 009 here and then handed to Alembic, whose
baseline revision is exactly that schema. New databases never run these.
"""

from __future__ import annotations

import sqlite3

from shared.db import migrate, sql_migration

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
    sql_migration(
        "005_parking",
        """
        CREATE TABLE parkings (
            id TEXT PRIMARY KEY, site TEXT NOT NULL REFERENCES sites(id), name TEXT NOT NULL,
            address TEXT NOT NULL DEFAULT '', objects TEXT NOT NULL DEFAULT '[]',
            guard_phone TEXT NOT NULL DEFAULT '', refunds INTEGER NOT NULL DEFAULT 0,
            offer_required INTEGER NOT NULL DEFAULT 0, rules_text TEXT NOT NULL DEFAULT '',
            debt_rules TEXT NOT NULL DEFAULT '', external_id TEXT, active INTEGER NOT NULL
            DEFAULT 0, deleted_at TEXT, created_at TEXT NOT NULL
        );
        ALTER TABLE gates ADD COLUMN parking TEXT REFERENCES parkings(id);
        CREATE TABLE spaces (
            parking TEXT NOT NULL REFERENCES parkings(id), number INTEGER NOT NULL,
            size TEXT NOT NULL CHECK (size IN ('small', 'medium', 'large')),
            labels TEXT NOT NULL DEFAULT '[]', rentable INTEGER NOT NULL DEFAULT 1,
            available_until TEXT, PRIMARY KEY (parking, number)
        );
        CREATE TABLE tariffs (
            id INTEGER PRIMARY KEY, parking TEXT NOT NULL REFERENCES parkings(id),
            kind TEXT NOT NULL CHECK (kind IN ('space', 'camera')), size TEXT,
            unit TEXT NOT NULL CHECK (unit IN ('daily', 'hourly')), name TEXT NOT NULL,
            lower INTEGER NOT NULL, upper INTEGER NOT NULL, price INTEGER NOT NULL
        );
        CREATE TABLE subscriptions (
            id TEXT PRIMARY KEY, parking TEXT NOT NULL REFERENCES parkings(id),
            space INTEGER NOT NULL, owner TEXT NOT NULL, users TEXT NOT NULL DEFAULT '[]',
            unit TEXT NOT NULL, units INTEGER NOT NULL, start TEXT NOT NULL, end TEXT NOT NULL,
            paid_through TEXT NOT NULL, camera INTEGER NOT NULL DEFAULT 0,
            amount INTEGER NOT NULL, paid_in_app INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL, prev TEXT, hold_until TEXT, refund INTEGER,
            created_at TEXT NOT NULL, created_by TEXT NOT NULL
        );
        CREATE INDEX subscriptions_parking ON subscriptions(parking, status);
        CREATE INDEX subscriptions_created ON subscriptions(created_at);
        CREATE INDEX subscriptions_prev ON subscriptions(prev);
        CREATE TABLE sub_vehicles (
            sub TEXT NOT NULL REFERENCES subscriptions(id), vrn TEXT NOT NULL,
            type TEXT NOT NULL, make TEXT NOT NULL DEFAULT '', PRIMARY KEY (sub, vrn)
        );
        CREATE INDEX sub_vehicles_vrn ON sub_vehicles(vrn);
        CREATE TABLE sub_payments (
            id INTEGER PRIMARY KEY, sub TEXT NOT NULL, kind TEXT NOT NULL, amount INTEGER NOT NULL,
            at TEXT NOT NULL, reference TEXT, documents TEXT NOT NULL DEFAULT '[]'
        );
        CREATE TABLE sub_history (
            sub TEXT NOT NULL, at TEXT NOT NULL, what TEXT NOT NULL, detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX sub_history_sub ON sub_history(sub);
        CREATE TABLE parking_presence (
            parking TEXT NOT NULL, vrn TEXT NOT NULL, inside INTEGER NOT NULL, at TEXT NOT NULL,
            PRIMARY KEY (parking, vrn)
        );
        CREATE TABLE occupancy_log (
            parking TEXT NOT NULL, space INTEGER NOT NULL, vrn TEXT, sub TEXT,
            inside INTEGER NOT NULL, at TEXT NOT NULL, source TEXT NOT NULL
        )
        """,
    ),
    sql_migration(
        "006_notifications",
        """
        ALTER TABLE parkings ADD COLUMN staff_email TEXT NOT NULL DEFAULT '';
        CREATE TABLE notifications (
            id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
            parking TEXT, sub TEXT, subject TEXT NOT NULL, body TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE deliveries (
            notification INTEGER NOT NULL REFERENCES notifications(id), channel TEXT NOT NULL,
            recipient TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, sent_at TEXT,
            PRIMARY KEY (notification, channel)
        );
        CREATE INDEX deliveries_pending ON deliveries(status)
        """,
    ),
    sql_migration(
        "007_staff",
        """
        CREATE TABLE staff (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL, roles TEXT NOT NULL,
            resident TEXT, created_at TEXT NOT NULL
        );
        CREATE TABLE api_keys (
            digest TEXT PRIMARY KEY, staff INTEGER NOT NULL REFERENCES staff(id),
            created_at TEXT NOT NULL, revoked_at TEXT
        );
        CREATE TABLE cameras (
            id INTEGER PRIMARY KEY, parking TEXT NOT NULL REFERENCES parkings(id),
            name TEXT NOT NULL, url TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1,
            parking_camera INTEGER NOT NULL DEFAULT 0, sort INTEGER NOT NULL DEFAULT 0,
            spaces TEXT NOT NULL DEFAULT '[]'
        );
        ALTER TABLE gates ADD COLUMN external_id TEXT;
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY, at TEXT NOT NULL, staff INTEGER, name TEXT,
            method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL,
            note TEXT NOT NULL DEFAULT ''
        )
        """,
    ),
    sql_migration(
        "008_edge_keys",
        """
        ALTER TABLE staff ADD COLUMN edge_sites TEXT
        """,
    ),
    sql_migration(
        "009_vehicle_flat",
        """
        ALTER TABLE vehicles ADD COLUMN flat TEXT
        """,
    ),
]


LAST = MIGRATIONS[-1].name


def bring_up_to_date(path: str) -> bool:
    """Apply the legacy migrations a pre-Alembic SQLite file lacks; False for other files."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        has = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                           "name = '_migrations'").fetchone()
        if not has:
            return False
        migrate(conn, MIGRATIONS)
        return True
    finally:
        conn.close()
