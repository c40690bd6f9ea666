"""The cloud's storage layer on both databases: migrations, rows, and what must stay one at
a time when several cloud processes share one database."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime

import pytest

from cloud.ingest.mqtt import CloudMqtt
from cloud.settings import CloudSettings
from cloud.society.rules import RulesService
from cloud.staff import Staff
from cloud.storage import Database, head_revision, legacy
from cloud.storage.dialect import json_text, upsert_sql
from gatepost.devstack.stack import wait_until
from shared.clock import SystemClock
from shared.contract import Event
from shared.db import migrate
from shared.vocab import EventType, TagStatus, VehicleType


def test_rows_read_by_position_and_by_name_and_upserts_replace(cloud_db):
    db = Database(cloud_db)
    try:
        with db.write() as tx:
            tx.execute("INSERT INTO sites(id, name, created_at) VALUES (?, ?, ?)",
                       ("s1", "It's ? here", "2026-01-01"))
            for kind in ("online", "offline"):
                tx.execute(upsert_sql("edges", ("id", "availability", "at"), ("id",)),
                           ("box-1", kind, "2026-01-01"))
        row = db.conn.execute("SELECT id, name FROM sites WHERE id = ?", ("s1",)).fetchone()
        assert row is not None
        assert (row[0], row["name"]) == ("s1", "It's ? here")  # a ? inside quotes stays text
        assert dict(row) == {"id": "s1", "name": "It's ? here"}
        assert [r["availability"] for r in db.conn.execute("SELECT * FROM edges")] == ["offline"]
        with db.write() as tx:
            tx.execute("INSERT INTO events(site, id, edge, gate, seq, type, at, data, "
                       "received_at) VALUES ('s1', 'g:1', 'e', 'g', 1, 'decision', 'a', ?, 'b')",
                       ('{"outcome": "open"}',))
            got = tx.execute(f"SELECT {json_text(tx, 'data', 'outcome')} FROM events").scalar()
        assert got == "open"
    finally:
        db.close()


def test_a_failed_write_leaves_nothing(cloud_db):
    db = Database(cloud_db)
    try:
        with pytest.raises(RuntimeError), db.write() as tx:
            tx.execute("INSERT INTO sites(id, name, created_at) VALUES ('s1', 'S', 'now')")
            raise RuntimeError("refused half-way")
        assert db.conn.execute("SELECT count(*) FROM sites").scalar() == 0
    finally:
        db.close()


def test_a_pre_alembic_sqlite_file_is_brought_up_to_date_with_its_rows(tmp_path):
    path = tmp_path / "cloud.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, legacy.MIGRATIONS[:5])  # a release from before vehicles had flats
    conn.execute("INSERT INTO sites(id, name, created_at) VALUES ('s1', 'S', 'now')")
    conn.execute("INSERT INTO vehicles(site, vrn, type, created_at) "
                 "VALUES ('s1', 'MH12AB1234', '4W', 'now')")
    for what in ("created", "paid", "status"):
        conn.execute("INSERT INTO sub_history(sub, at, what) VALUES ('x', 'same time', ?)",
                     (what,))
    conn.close()

    db = Database(path)
    try:
        assert db.revision() == head_revision()
        row = db.conn.execute("SELECT vrn, flat FROM vehicles").fetchone()
        assert row is not None and (row["vrn"], row["flat"]) == ("MH12AB1234", None)
        hist = [r["what"] for r in db.conn.execute("SELECT what FROM sub_history ORDER BY id")]
        assert hist == ["created", "paid", "status"]  # rowid order kept as id order
    finally:
        db.close()


def test_cli_migrate_upgrades_an_empty_database_once(postgres):
    url = postgres.create_database()

    def migrate_cli() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "gatepost.cli", "cloud", "migrate",
                               "--db", url], capture_output=True, text=True, timeout=60)

    first, second = migrate_cli(), migrate_cli()
    assert first.returncode == 0, first.stderr
    assert f"empty → {head_revision()}" in first.stdout
    assert second.returncode == 0 and f"already at {head_revision()}" in second.stdout
    bad = subprocess.run([sys.executable, "-m", "gatepost.cli", "cloud", "migrate", "--db",
                          "mysql://x/y"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unsupported database" in bad.stderr


def both_at_once(work) -> None:
    """Run work(0) and work(1) on two threads at once; wait for both."""
    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def test_two_processes_changing_one_site_get_consecutive_versions(cloud_db):
    """Each Database stands for a cloud process of its own (its own engine and pool)."""
    first = Database(cloud_db)
    second = Database(cloud_db)
    rules = [RulesService(first, SystemClock()), RulesService(second, SystemClock())]
    rules[0].create_site("s1", "S")
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for n in range(25):
                rules[i].add_vehicle("s1", f"MH12A{'BC'[i]}{1000 + n}", VehicleType.W4)
        except BaseException as exc:  # reported below: a thread cannot fail the test itself
            errors.append(exc)

    both_at_once(work)
    try:
        assert errors == []
        versions = [r[0] for r in first.conn.execute(
            "SELECT version FROM rule_changes WHERE site = 's1' ORDER BY version")]
        assert versions == list(range(1, 51))
        assert rules[1].versions() == {"s1": 50}
    finally:
        first.close()
        second.close()


def test_an_event_stored_by_two_processes_at_once_is_stored_once(cloud_db):
    dbs = [Database(cloud_db), Database(cloud_db)]
    sides = [CloudMqtt(db, SystemClock(), CloudSettings(db=cloud_db)) for db in dbs]
    events = [Event(id=f"g1:{n}", type=EventType.DECISION, site="s1", edge="box-1", gate="g1",
                    seq=n, at=datetime(2026, 1, 1, tzinfo=UTC)) for n in range(1, 41)]
    stored: list[list[bool]] = [[], []]

    def work(i: int) -> None:
        for e in events:
            stored[i].append(sides[i].store_event(e))

    both_at_once(work)
    try:
        assert [a + b for a, b in zip(*stored, strict=True)] == [1] * 40
        assert dbs[0].conn.execute("SELECT count(*) FROM events").scalar() == 40
    finally:
        for db in dbs:
            db.close()


def test_cli_copy_moves_a_society_from_sqlite_to_postgresql(tmp_path, postgres):
    src = str(tmp_path / "cloud.sqlite")
    db = Database(src)
    rules = RulesService(db, SystemClock())
    rules.create_site("green-acres", "Green Acres")
    rules.add_vehicle("green-acres", "MH12AB1234", VehicleType.W4, flat="B-402")
    rules.add_tag("green-acres", "E2801160600002040000AB01", "MH12AB1234", TagStatus.ACTIVE)
    key = Staff(db, SystemClock()).add("Asha", ["admin"])["key"]
    before = rules.snapshot("green-acres")
    db.close()
    dst = postgres.create_database()

    def copy() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "gatepost.cli", "cloud", "copy", "--from",
                               src, "--to", dst], capture_output=True, text=True, timeout=120)

    first = copy()
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert out["tables"]["tags"] == 1 and out["tables"]["staff"] == 1
    assert out["tables"]["rule_changes"] == 2  # the vehicle and the tag
    moved = Database(dst)
    try:
        assert RulesService(moved, SystemClock()).snapshot("green-acres") == before
        staff = Staff(moved, SystemClock())
        assert staff.resolve(key) is not None  # the API keys came along
        assert staff.add("Ravi", ["view_parkings"])["id"] == 2  # ids go on after the copied
    finally:
        moved.close()
    again = copy()
    assert again.returncode == 2 and "not empty" in again.stderr


def test_a_connection_the_server_ended_is_replaced_without_an_error(postgres):
    # The pool hands out no connection the server has ended (a restart, a failover, an idle
    # timeout): the next transaction runs on a fresh one, with no round trip spent checking.
    db = Database(postgres.create_database())
    try:
        with db.engine.connect() as other:  # held, so that the pool's next one differs
            with db.read() as c:
                pid = c.execute("SELECT pg_backend_pid()").scalar()
            other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
            other.commit()

            def ended() -> bool:  # pg_terminate_backend only signals the backend
                n = other.exec_driver_sql("SELECT count(*) FROM pg_stat_activity WHERE pid = "
                                          f"{int(pid)}").scalar()
                other.rollback()  # the view is read once per transaction
                return n == 0

            wait_until(ended, 10, what="the backend ended (and has told its client)")
        with db.read() as c:
            assert c.execute("SELECT pg_backend_pid()").scalar() != pid
            assert c.execute("SELECT 1").scalar() == 1
    finally:
        db.close()
