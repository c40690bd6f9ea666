"""The edge's SQLite file: schema migrations; connections come from ThreadLocalDB."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from shared.db import Migration, ThreadLocalDB, sql_migration

log = logging.getLogger(__name__)

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
    Migration("011_event_log", lambda c: _event_log(c)),
    sql_migration(
        "012_schedules",
        """
        CREATE TABLE schedules (
            site TEXT NOT NULL, name TEXT NOT NULL, rule TEXT NOT NULL, PRIMARY KEY (site, name)
        ) WITHOUT ROWID;
        ALTER TABLE tags ADD COLUMN schedule TEXT;
        ALTER TABLE vehicles ADD COLUMN schedule TEXT;
        CREATE INDEX vehicles_scheduled ON vehicles(site) WHERE schedule IS NOT NULL;
        ALTER TABLE subscriptions ADD COLUMN schedule TEXT
        """,
    ),
    # Access codes and visitor passes, by keyed hash only; a box's own spends of single-use
    # passes outlive snapshots (a snapshot may come before the cloud heard of the spend).
    sql_migration(
        "013_codes",
        """
        CREATE TABLE codes (
            hash TEXT PRIMARY KEY, site TEXT NOT NULL, kind TEXT NOT NULL,
            status TEXT NOT NULL, valid_from TEXT, valid_until TEXT, activate_by TEXT,
            single_use INTEGER NOT NULL, schedule TEXT, flat TEXT, vrn TEXT,
            label TEXT NOT NULL DEFAULT ''
        ) WITHOUT ROWID;
        CREATE INDEX codes_site ON codes(site);
        CREATE TABLE code_config (
            site TEXT PRIMARY KEY, key TEXT NOT NULL, alphabet TEXT NOT NULL,
            first_use INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE codes_spent (hash TEXT PRIMARY KEY, at TEXT NOT NULL) WITHOUT ROWID
        """,
    ),
    # Visitors inside a site: let in by a pass or a flat's approval, not out yet (the panel's
    # Visitors page); written with the open, removed with the exit or by the guard.
    sql_migration(
        "014_visitors_inside",
        """
        CREATE TABLE visitors_inside (
            key TEXT PRIMARY KEY, site TEXT NOT NULL, label TEXT NOT NULL, flat TEXT,
            vrn TEXT, gate TEXT NOT NULL, via TEXT NOT NULL, entered_at TEXT NOT NULL
        ) WITHOUT ROWID
        """,
    ),
    # Single-use spends still to tell each peer box of the site (``edge.peers``): written with
    # the open, removed when that peer acknowledges.
    sql_migration(
        "015_peer_spends",
        """
        CREATE TABLE peer_spends_out (
            peer TEXT NOT NULL, hash TEXT NOT NULL, site TEXT NOT NULL, at TEXT NOT NULL,
            PRIMARY KEY (peer, hash)
        ) WITHOUT ROWID
        """,
    ),
    # The devices (browsers) each account signed in from: guessing at an account slows it
    # down everywhere but there (``edge.store.accounts``). Tokens are kept as SHA-256 hashes only.
    sql_migration(
        "016_login_devices",
        """
        CREATE TABLE login_devices (
            token TEXT NOT NULL, username TEXT NOT NULL, at TEXT NOT NULL,
            PRIMARY KEY (token, username)
        ) WITHOUT ROWID
        """,
    ),
    # Codes hashed by scrypt: a site's salt, cost and key generation (its pepper is never
    # written); the legacy HMAC key may be absent now.
    sql_migration(
        "017_code_keys",
        """
        CREATE TABLE code_config_new (
            site TEXT PRIMARY KEY, key TEXT, alphabet TEXT NOT NULL, first_use INTEGER NOT NULL,
            salt TEXT, cost INTEGER, generation INTEGER
        ) WITHOUT ROWID;
        INSERT INTO code_config_new(site, key, alphabet, first_use)
            SELECT site, key, alphabet, first_use FROM code_config;
        DROP TABLE code_config;
        ALTER TABLE code_config_new RENAME TO code_config
        """,
    ),
    # Guessing from a remembered device counts on the device, per account; an account's
    # devices are forgotten when it is removed or gets a new password, whichever path does it
    # (the cloud's snapshots and deltas, `gatepost edge add-guard`): a trigger, not each caller.
    Migration("018_login_guessing", lambda c: _script(c, LOGIN_GUESSING)),
    # A site's country, language, currency and zone, as the cloud sends them (none from a
    # cloud of before: the box's own api.locale and api.timezone, or its schedules' zone).
    sql_migration(
        "019_site_settings",
        """
        CREATE TABLE site_settings (
            site TEXT PRIMARY KEY, country TEXT NOT NULL, locale TEXT NOT NULL,
            currency TEXT NOT NULL, timezone TEXT
        ) WITHOUT ROWID
        """,
    ),
]

LOGIN_GUESSING: list[str] = [
    "ALTER TABLE login_devices ADD COLUMN failures INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE login_devices ADD COLUMN locked_until TEXT",
    "DELETE FROM login_devices WHERE username NOT IN (SELECT username FROM accounts)",
    "CREATE TRIGGER login_devices_account_gone AFTER DELETE ON accounts BEGIN "
    "DELETE FROM login_devices WHERE username = OLD.username; END",
    "CREATE TRIGGER login_devices_new_password AFTER UPDATE OF pw_hash ON accounts "
    "WHEN NEW.pw_hash IS NOT OLD.pw_hash BEGIN "
    "DELETE FROM login_devices WHERE username = OLD.username; END",
]


def _script(c: sqlite3.Connection, statements: list[str]) -> None:
    """Statements that may hold a ``;`` of their own (a trigger's body), one by one."""
    for stmt in statements:
        c.execute(stmt)

EVENT_LOG = """
CREATE TABLE events (
    n INTEGER PRIMARY KEY, gate TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL,
    at TEXT NOT NULL, outcome TEXT, reason TEXT, vrn TEXT, credential TEXT, rest TEXT NOT NULL,
    site TEXT NOT NULL, acked INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX events_id ON events(gate, seq);
CREATE INDEX events_waiting ON events(n) WHERE acked = 0;
CREATE INDEX events_at ON events(at)
"""


def _event_log(c: sqlite3.Connection) -> None:
    """The outbox and the journal become one log: an event's data is stored once."""
    for stmt in EVENT_LOG.split(";"):
        c.execute(stmt)
    c.execute(
        "INSERT INTO events(gate, seq, type, at, outcome, reason, vrn, credential, rest, site, "
        "acked) SELECT gate, seq, type, at, outcome, reason, vrn, credential, rest, site, acked "
        "FROM (SELECT j.gate, CAST(substr(j.id, length(j.gate) + 2) AS INTEGER) AS seq, j.type, "
        "j.at, j.outcome, j.reason, j.vrn, j.credential, j.payload AS rest, "
        "coalesce(json_extract(o.payload, '$.site'), '') AS site, o.id IS NULL AS acked "
        "FROM journal j LEFT JOIN outbox o ON o.id = j.id "
        "UNION ALL SELECT o.gate, o.seq, o.type, json_extract(o.payload, '$.at'), NULL, NULL, "
        "NULL, NULL, json_extract(o.payload, '$.data'), json_extract(o.payload, '$.site'), 0 "
        "FROM outbox o WHERE o.id NOT IN (SELECT id FROM journal)) ORDER BY at")
    c.execute("DROP TABLE outbox")
    c.execute("DROP TABLE journal")


class EdgeDB(ThreadLocalDB):
    """The edge's cache and outbox file."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, MIGRATIONS)
        self._incremental_vacuum()

    def _incremental_vacuum(self) -> None:
        """Freed pages can be given back to the disk (``PRAGMA incremental_vacuum``): switched
        on once, with a VACUUM, on a new file or one of an earlier release."""
        c = self._keeper
        if self.path.startswith("file:") or c.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
            return
        log.info("switching %s to incremental vacuum (once)", self.path)
        c.execute("PRAGMA auto_vacuum = INCREMENTAL")
        c.execute("VACUUM")
