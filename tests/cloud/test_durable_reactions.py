"""What follows a stored event happens exactly once, and a periodic job whose holder dies or
fails is taken over: the attacks of issue 25 against the real cloud, real Mosquitto, and real
SQLite and PostgreSQL.

- A single-use pass whose spending failed once (the database refused the write) stays usable
  at every box of the site unless the reaction is retried: it is, with back-off, and the spent
  pass reaches the site's other box as a rules change.
- The daily codes job that fails, or whose process is killed with SIGKILL in the middle of the
  run, is taken over within its lease (not a day later).
- The cloud refuses to start on a PostgreSQL database that may lose acknowledged commits.
- A lane held behind a failing reaction holds back no other lane, however long it grows; a
  reaction that keeps failing is parked (kept, counted, tried no more) and its lane goes on.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cloud.app import create_app
from cloud.ingest.reactions import BATCH, MAX_ATTEMPTS
from cloud.settings import CloudSettings
from cloud.society.provision import CLOUD_USER, EdgeGrant, edge_user, provision
from cloud.storage import Database, UnsafeDatabase
from gatepost.devstack.broker import Broker, free_port
from gatepost.devstack.probes import ProbeBox
from gatepost.devstack.stack import wait_until
from shared.clock import FileClock, SystemClock
from shared.contract import CodeUpsert, RulesDelta, RulesSnapshot, Topics
from shared.webthread import WebThread
from tests.factories import ADMIN, cloud_api, resident_app

GA = "green-acres"
SS = "sunny-side"  # another society, served by box-c
T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


# A real fault: the database refuses a write to a code, as a full disk or a constraint would.
SQLITE_FAULT = ["CREATE TRIGGER refuse_codes BEFORE UPDATE OF status ON access_codes "
                "WHEN NEW.status = '{status}'{only} BEGIN SELECT RAISE(ABORT, 'injected fault'); "
                "END"]
PG_FAULT = ["CREATE OR REPLACE FUNCTION refuse_codes() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'injected fault'; END $$",
            "CREATE TRIGGER refuse_codes BEFORE UPDATE ON access_codes FOR EACH ROW "
            "WHEN (NEW.status = '{status}'{only}) EXECUTE FUNCTION refuse_codes()"]


def fault(db: Database, status: str, code: str | None = None) -> None:
    """The database refuses to set any code's status (or only that of the code *code*) to
    *status*."""
    only = f" AND NEW.id = '{code}'" if code else ""
    with db.engine.begin() as conn:
        for sql in PG_FAULT if db.dialect == "postgresql" else SQLITE_FAULT:
            conn.exec_driver_sql(sql.format(status=status, only=only))


def mend(db: Database) -> None:
    """The fault is gone."""
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER refuse_codes" +
                             (" ON access_codes" if db.dialect == "postgresql" else ""))


def code_of(staff: httpx.Client, code_id: str, site: str = GA) -> dict:
    return next(c for c in staff.get(f"/api/v1/sites/{site}/codes").json()["codes"]
                if c["id"] == code_id)


def issue_pass(staff: httpx.Client, me: httpx.Client, now: datetime, hours: int = 2,
               site: str = GA) -> dict:
    """A single-use visitor pass of a resident of *site*, valid from *now* for *hours*."""
    staff.put(f"/api/v1/sites/{site}/codes/settings", json={}).raise_for_status()
    got = me.post("/api/v1/me/passes", json={
        "kind": "delivery", "name": "Ravi", "valid_from": now.isoformat(),
        "valid_until": (now + timedelta(hours=hours)).isoformat()})
    assert got.status_code == 201, got.text
    return got.json()


class RulesWatch:
    """A second box of the site, listening to the site's rules deltas as a box does."""

    def __init__(self, port: int, edge: str, password: str, site: str) -> None:
        self.deltas: list[RulesDelta] = []
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"watch-{edge}")
        self.c.username_pw_set(edge_user(edge), password)
        self.c.on_message = lambda _c, _u, msg: self.deltas.append(
            RulesDelta.model_validate_json(msg.payload))
        ready = threading.Event()
        self.c.on_subscribe = lambda *a: ready.set()
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self.c.subscribe(Topics.rules_delta(site), 1)
        assert ready.wait(5), "no subscription at the broker"

    def codes(self) -> list:
        return [ch.code for d in self.deltas for ch in d.changes if isinstance(ch, CodeUpsert)]

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


@contextmanager
def mqtt_cloud(work: Path, db: str, setup: bool = True
               ) -> Iterator[tuple[httpx.Client, Any, dict]]:
    """A cloud process with its MQTT side, on a locked-down broker where box-a and box-b serve
    GA (which *setup* creates) and box-c may serve SS: an admin client, the app, and the boxes'
    passwords (and the broker's port)."""
    auth = provision(work / "auth", [EdgeGrant("box-a", (GA,)), EdgeGrant("box-b", (GA,)),
                                     EdgeGrant("box-c", (SS,))])
    broker = Broker(work / "broker", password_file=auth.password_file, acl_file=auth.acl_file)
    broker.start()
    app = create_app(CloudSettings(db=db, mqtt_url=broker.url, mqtt_user=CLOUD_USER,
                                   mqtt_password=auth.passwords[CLOUD_USER], admin_key=ADMIN,
                                   jobs_every_s=0), SystemClock())
    web = WebThread(app, "127.0.0.1", 0)
    app.state.services.link.start(app.state.services.rules)
    web.start()
    api = httpx.Client(base_url=web.url, timeout=10, headers={"X-Api-Key": ADMIN})
    try:
        assert app.state.services.link.connected.wait(10)
        if setup:
            api.post("/api/v1/sites", json={"id": GA}).raise_for_status()
            api.post(f"/api/v1/sites/{GA}/gates",
                     json={"id": "main-in", "direction": "entry"}).raise_for_status()
            api.post("/api/v1/edges", json={"id": "box-a", "sites": [GA], "gates": [
                {"site": GA, "gate": "main-in"}]}).raise_for_status()
            api.post("/api/v1/edges", json={"id": "box-b", "sites": [GA]}).raise_for_status()
        yield api, app, {"port": broker.port} | {
            e: auth.passwords[edge_user(e)] for e in ("box-a", "box-b", "box-c")}
    finally:
        api.close()
        app.state.services.link.stop()
        web.stop()
        broker.stop()


@contextmanager
def jobs_cloud(db: str, clock: Path, **settings: Any) -> Iterator[httpx.Client]:
    """A cloud process running its periodic jobs (the codes job wakes every lease), on the
    virtual clock *clock*; an admin client."""
    app = create_app(CloudSettings(db=db, mqtt_url=None, admin_key=ADMIN, **settings),
                     FileClock(clock))
    web = WebThread(app, "127.0.0.1", 0)
    web.start()
    app.state.services.jobs.start()
    api = httpx.Client(base_url=web.url, timeout=10, headers={"X-Api-Key": ADMIN})
    try:
        yield api
    finally:
        api.close()
        app.state.services.jobs.stop()
        web.stop()


@pytest.mark.timeout(120)
def test_a_pass_whose_spending_failed_is_spent_by_a_retry_at_every_box(tmp_path, cloud_db):
    db = Database(cloud_db)
    with mqtt_cloud(tmp_path, cloud_db) as (staff, app, secrets), \
            resident_app(staff, site=GA) as (_who, me):
        pas = issue_pass(staff, me, datetime.now(UTC) - timedelta(minutes=1))
        rules = RulesSnapshot.model_validate(staff.get(f"/api/v1/sites/{GA}/rules").json())
        digest = next(c.hash for c in rules.codes if c.kind == "visitor")
        box = ProbeBox(secrets["port"], "box-a", secrets["box-a"])
        other = RulesWatch(secrets["port"], "box-b", secrets["box-b"], GA)
        counters = app.state.services.link.counters
        try:
            fault(db, "spent")
            # The visitor is let in with the pass at box A's gate.
            box.event(GA, "main-in", 1, outcome="open", reason="code_valid",
                      credential={"kind": "code", "value": digest})
            wait_until(lambda: box.acks == ["main-in:1"], 10, what="the event acknowledged")
            # The failure is counted first, then written to its row: wait for the row.
            wait_until(lambda: counters["reaction_errors"] >= 1
                       and any(r[1] >= 1 for r in queued(db)), 10,
                       what="spending the pass refused by the database")
            # The event is stored and acknowledged, the pass not spent yet: still queued.
            assert code_of(staff, pas["id"])["status"] == "active"
            with db.read() as c:
                left = c.execute("SELECT reaction, attempts, last_error FROM "
                                 "event_reactions").fetchall()
            assert [(r[0], r[1] >= 1, "injected fault" in r[2]) for r in left] == [
                ("code", True, True)]
            mend(db)
            # Tried again after its back-off (1 s, then 2 s…, with jitter).
            wait_until(lambda: code_of(staff, pas["id"])["status"] == "spent", 15,
                       what="the pass spent by a retry")
            # Box B learns of it from the rules change, so the pass opens no other gate.
            wait_until(lambda: any(c.hash == digest and c.status == "spent"
                                   for c in other.codes()), 10,
                       what="the spent pass at box B")
            # The reaction's work commits first, then its row goes: wait for the row.
            wait_until(lambda: queued(db) == [], 10, what="the reaction's row removed")
            assert counters["reactions_done"] == 1
            # The box sends the event again (it missed the ack): nothing is done twice.
            box.event(GA, "main-in", 1, outcome="open", reason="code_valid",
                      credential={"kind": "code", "value": digest})
            wait_until(lambda: counters["duplicates"] >= 1, 10, what="the resend")
            with db.read() as c:
                assert c.execute("SELECT count(*) FROM event_reactions").scalar() == 0
        finally:
            box.close()
            other.close()
            db.close()


@pytest.mark.timeout(120)
def test_a_reaction_left_by_a_stopped_process_is_done_by_the_next(tmp_path, cloud_db):
    """The process that stored the event stops before its reaction could be done; the queue
    is in the database, so the next cloud process on it does it."""
    db = Database(cloud_db)
    try:
        with mqtt_cloud(tmp_path / "a", cloud_db) as (staff, app, secrets), \
                resident_app(staff, site=GA) as (_who, me):
            pas = issue_pass(staff, me, datetime.now(UTC) - timedelta(minutes=1))
            rules = RulesSnapshot.model_validate(staff.get(f"/api/v1/sites/{GA}/rules").json())
            digest = next(c.hash for c in rules.codes if c.kind == "visitor")
            box = ProbeBox(secrets["port"], "box-a", secrets["box-a"])
            fault(db, "spent")
            box.event(GA, "main-in", 1, outcome="open", reason="code_valid",
                      credential={"kind": "code", "value": digest})
            wait_until(lambda: app.state.services.link.counters["reaction_errors"] >= 1, 10,
                       what="spending the pass refused")
            box.close()
        mend(db)
        with mqtt_cloud(tmp_path / "b", cloud_db, setup=False) as (again, _app, _secrets):
            wait_until(lambda: code_of(again, pas["id"])["status"] == "spent", 15,
                       what="the pass spent by the next process")
    finally:
        db.close()


def queued(db: Database) -> list[tuple[str, int, str | None]]:
    """The reaction queue, oldest first: lane, attempts, last error."""
    with db.read() as c:
        return [(r[0], int(r[1]), r[2]) for r in c.execute(
            "SELECT lane, attempts, last_error FROM event_reactions ORDER BY id")]


def queue_gauge(staff: httpx.Client) -> dict[str, float]:
    """``gatepost_cloud_reactions_queued`` at ``GET /metrics``: state → reactions."""
    got = staff.get("/metrics")
    got.raise_for_status()
    return {s.labels["state"]: s.value for f in text_string_to_metric_families(got.text)
            if f.name == "gatepost_cloud_reactions_queued" for s in f.samples}


def visitor_code(staff: httpx.Client, site: str) -> str:
    """The digest of the visitor pass in *site*'s rules."""
    rules = RulesSnapshot.model_validate(staff.get(f"/api/v1/sites/{site}/rules").json())
    return next(c.hash for c in rules.codes if c.kind == "visitor")


@pytest.mark.timeout(240)
def test_a_lane_held_behind_a_failing_reaction_holds_back_no_other(tmp_path, cloud_db):
    """A pass of GA whose spending the database keeps refusing is used at the gate more times
    than a page of the queue holds (a box replaying its log, say); a pass of another society
    is still spent at once, not after the held lane (before: never)."""
    db = Database(cloud_db)
    with mqtt_cloud(tmp_path, cloud_db) as (staff, app, secrets):
        staff.post("/api/v1/sites", json={"id": SS}).raise_for_status()
        staff.post(f"/api/v1/sites/{SS}/gates",
                   json={"id": "main-in", "direction": "entry"}).raise_for_status()
        staff.post("/api/v1/edges", json={"id": "box-c", "sites": [SS], "gates": [
            {"site": SS, "gate": "main-in"}]}).raise_for_status()
        since = datetime.now(UTC) - timedelta(minutes=1)
        with resident_app(staff, site=GA) as (_a, me_a), \
                resident_app(staff, phone="9876500000", name="Meera", site=SS) as (_b, me_b):
            stuck = issue_pass(staff, me_a, since)
            spent = issue_pass(staff, me_b, since, site=SS)
        digest, other = visitor_code(staff, GA), visitor_code(staff, SS)
        box = ProbeBox(secrets["port"], "box-a", secrets["box-a"])
        box_c = ProbeBox(secrets["port"], "box-c", secrets["box-c"])
        counters = app.state.services.link.counters
        try:
            fault(db, "spent", stuck["id"])
            n = BATCH + 50
            for seq in range(1, n + 1):
                box.event(GA, "main-in", seq, outcome="open", reason="code_valid",
                          credential={"kind": "code", "value": digest})
            wait_until(lambda: len(box.acks) == n, 60, what="the events acknowledged")
            # The failure is counted first, then written to its row: wait for the row.
            wait_until(lambda: counters["reaction_errors"] >= 1
                       and any(r[1] >= 1 for r in queued(db)), 10,
                       what="spending the pass refused by the database")
            box_c.event(SS, "main-in", 1, outcome="open", reason="code_valid",
                        credential={"kind": "code", "value": other})
            wait_until(lambda: code_of(staff, spent["id"], SS)["status"] == "spent", 10,
                       what="the other society's pass spent")
            # Its work commits before its own queue row goes: wait for that row.
            wait_until(lambda: {r[0] for r in queued(db)} == {f"code:{GA}:{digest}"}, 10,
                       what="the other society's reaction row gone")
            # The held lane is as it was: its oldest reaction failing, the others waiting.
            lane = queued(db)
            assert len(lane) == n and {r[0] for r in lane} == {f"code:{GA}:{digest}"}
            assert lane[0][1] >= 1 and [r[1] for r in lane[1:]] == [0] * (n - 1)
            assert code_of(staff, stuck["id"])["status"] == "active"
            assert queue_gauge(staff)["failing"] == 1
        finally:
            box.close()
            box_c.close()
            db.close()


@pytest.mark.timeout(120)
def test_a_reaction_that_keeps_failing_is_parked_and_its_lane_goes_on(tmp_path, cloud_db,
                                                                       caplog):
    db = Database(cloud_db)
    with mqtt_cloud(tmp_path, cloud_db) as (staff, app, secrets), \
            resident_app(staff, site=GA) as (_who, me):
        pas = issue_pass(staff, me, datetime.now(UTC) - timedelta(minutes=1))
        digest = visitor_code(staff, GA)
        box = ProbeBox(secrets["port"], "box-a", secrets["box-a"])
        reactions, counters = app.state.services.link.reactions, app.state.services.link.counters

        def tried_again() -> bool:  # now, whatever its back-off
            reactions.drain()
            return counters["reactions_parked"] >= 1

        try:
            fault(db, "spent")
            with caplog.at_level(logging.ERROR, logger="cloud.ingest.reactions"):
                box.event(GA, "main-in", 1, outcome="open", reason="code_valid",
                          credential={"kind": "code", "value": digest})
                wait_until(lambda: box.acks == ["main-in:1"], 10, what="the event acknowledged")
                wait_until(tried_again, 60, what="the reaction parked")
            # Parked: kept with its last error, counted, logged at ERROR once, tried no more.
            assert counters["reaction_errors"] == MAX_ATTEMPTS
            [(lane, attempts, error)] = queued(db)
            assert (lane, attempts) == (f"code:{GA}:{digest}", MAX_ATTEMPTS)
            assert "injected fault" in (error or "")
            assert len([r for r in caplog.records if r.levelno == logging.ERROR
                        and "parked after" in r.getMessage()]) == 1
            assert reactions.drain() == {"done": 0, "failed": 0, "parked": 0}
            assert counters["reaction_errors"] == MAX_ATTEMPTS
            assert staff.get("/api/v1/health").json()["counters"]["reactions_parked"] == 1
            assert queue_gauge(staff) == {"waiting": 0, "failing": 0, "parked": 1}
            # Its lane goes on: the pass used again is tried (and spent once the fault is gone).
            box.event(GA, "main-in", 2, outcome="open", reason="code_valid",
                      credential={"kind": "code", "value": digest})
            wait_until(lambda: counters["reaction_errors"] > MAX_ATTEMPTS, 10,
                       what="the later reaction of the lane tried")
            mend(db)
            wait_until(lambda: code_of(staff, pas["id"])["status"] == "spent", 15,
                       what="the pass spent by the later reaction")
            # The reaction's work commits before its own queue row goes: wait for the row.
            wait_until(lambda: [r[1] for r in queued(db)] == [MAX_ATTEMPTS], 10,
                       what="the later reaction's row gone, the parked one kept")
            assert queue_gauge(staff) == {"waiting": 0, "failing": 0, "parked": 1}
        finally:
            box.close()
            db.close()


def _job(db: Database, name: str) -> dict | None:
    with db.read() as c:
        row = c.execute("SELECT * FROM job_runs WHERE name = ?", (name,)).fetchone()
    return dict(zip(row.keys(), row, strict=True)) if row is not None else None


@pytest.fixture
def lapsed_pass(tmp_path, cloud_db) -> tuple[str, Path, str]:
    """A visitor pass that ended a day ago on the clock the next clouds run on (made on a cloud
    that runs no jobs): (the database, the clock file, the pass's id)."""
    clock = tmp_path / "clock.json"
    FileClock.set_time(clock, T0)
    with cloud_api(cloud_db, (GA,), clock=FileClock(clock)) as staff, \
            resident_app(staff, site=GA) as (_who, me):
        pas = issue_pass(staff, me, T0)
    FileClock.advance(clock, timedelta(days=1))
    return cloud_db, clock, pas["id"]


@pytest.mark.timeout(120)
def test_a_failed_daily_job_is_tried_again_within_minutes(lapsed_pass):
    url, clock, pass_id = lapsed_pass
    db = Database(url)
    fault(db, "expired")
    try:
        with jobs_cloud(url, clock, jobs_every_s=0.3, job_lease_s=2) as staff:
            # The codes job runs, fails on the database's refusal, and lets go of its claim.
            wait_until(lambda: (_job(db, "codes") or {}).get("attempts", 0) >= 1, 20,
                       what="the codes job failed")
            failed = _job(db, "codes")
            assert failed is not None and failed["lease_until"] is None
            assert failed["last_at"] == 0  # no run completed: the day is not done
            assert code_of(staff, pass_id)["status"] == "active"
            mend(db)
            t0 = time.monotonic()
            wait_until(lambda: code_of(staff, pass_id)["status"] == "expired", 20,
                       what="the codes job tried again")
            assert time.monotonic() - t0 < 15
            # The job's work commits before its own row records the run: wait for that row.
            wait_until(lambda: (_job(db, "codes") or {}).get("last_at", 0) > 0, 10,
                       what="the codes job recorded its run")
            done = _job(db, "codes")
            assert done is not None and done["attempts"] == 0 and done["lease_until"] is None
    finally:
        db.close()


@pytest.mark.timeout(180)
def test_a_daily_job_whose_process_was_killed_mid_run_is_taken_over(tmp_path, postgres):
    """Process A claims the codes job and is killed with SIGKILL while the run waits on a row
    another connection holds; process B takes the job over once A's lease has run out."""
    import psycopg

    clock = tmp_path / "clock.json"
    FileClock.set_time(clock, T0)
    url = postgres.create_database()
    with cloud_api(url, (GA,), clock=FileClock(clock)) as staff, \
            resident_app(staff, site=GA) as (_who, me):
        pass_id = issue_pass(staff, me, T0)["id"]
    FileClock.advance(clock, timedelta(days=1))
    db = Database(url)
    holder = psycopg.connect(url)  # holds the pass's row: the job's write waits on it
    holder.execute("SELECT 1 FROM access_codes WHERE id = %s FOR UPDATE", (pass_id,))
    port = free_port()
    log = open(tmp_path / "cloud-a.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "gatepost.cli", "cloud", "run", "--db", url, "--no-mqtt",
         "--port", str(port), "--jobs-every", "0.3", "--clock-file", str(clock),
         "--data-dir", str(tmp_path / "cloud-a")],
        stdout=log, stderr=log, start_new_session=True,
        env=os.environ | {"GATEPOST_JOB_LEASE_S": "2"})
    try:
        def waiting_on_the_row() -> bool:
            with db.read() as c:
                return bool(c.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'UPDATE access_codes%'").scalar())

        wait_until(waiting_on_the_row, 60, what="process A's run waiting on the row")
        claim = _job(db, "codes")
        assert claim is not None and claim["holder"].endswith(f":{proc.pid}")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        holder.rollback()  # the row is free; A is gone and its run with it
        killed_at = time.monotonic()
        with jobs_cloud(url, clock, jobs_every_s=0.3, job_lease_s=2) as staff:
            wait_until(lambda: code_of(staff, pass_id)["status"] == "expired", 30,
                       what="process B took the job over")
            took = time.monotonic() - killed_at
            # The run's work commits before the job's row records the run: wait for the row.
            wait_until(lambda: (_job(db, "codes") or {}).get("last_at", 0) > 0, 10,
                       what="process B's run recorded")
            done = _job(db, "codes")
            assert done is not None
            assert not done["holder"].endswith(f":{proc.pid}")
        # Within A's lease (2 s), B's start and its next wake-up (2 s), with room for a loaded
        # machine (not the 21.6 h a claim used to hold the day).
        assert took < 20
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        holder.close()
        db.close()
        log.close()


@pytest.mark.timeout(120)
def test_the_cloud_refuses_a_postgresql_that_may_lose_acknowledged_events(tmp_path, postgres):
    url = postgres.create_database()
    name = url.rsplit("/", 1)[1]
    admin = Database(postgres.url("postgres"), upgrade=False)

    def set_sync(value: str) -> None:
        with admin.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = {value}')

    env = {k: v for k, v in os.environ.items() if k != "GATEPOST_ALLOW_ASYNC_COMMIT"}
    port = free_port()
    run = [sys.executable, "-m", "gatepost.cli", "cloud", "run", "--db", url, "--no-mqtt",
           "--port", str(port), "--jobs-every", "0", "--data-dir", str(tmp_path / "cloud")]
    try:
        set_sync("off")
        refused = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "refusing to start" in refused.stderr
        assert "synchronous_commit is off" in refused.stderr
        assert "GATEPOST_ALLOW_ASYNC_COMMIT" in refused.stderr
        db = Database(url, upgrade=False)
        try:
            assert db.revision() is None  # refused before anything was migrated
        finally:
            db.close()
        with pytest.raises(UnsafeDatabase, match="synchronous_commit is off"):
            create_app(CloudSettings(db=url, mqtt_url=None, allow_async_commit=False))
        # The database's own setting is what is read: on, only the cluster's fsync is left
        # (this throwaway cluster runs without it).
        set_sync("on")
        with pytest.raises(UnsafeDatabase) as exc:
            create_app(CloudSettings(db=url, mqtt_url=None, allow_async_commit=False))
        assert "synchronous_commit is off" not in str(exc.value)
        assert "fsync is off" in str(exc.value)
        # Told otherwise, it starts.
        set_sync("off")
        log = open(tmp_path / "cloud.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(run, env=env | {"GATEPOST_ALLOW_ASYNC_COMMIT": "true"},
                                stdout=log, stderr=log, start_new_session=True)
        try:
            def up() -> bool:
                try:
                    return httpx.get(f"http://127.0.0.1:{port}/api/v1/health",
                                     timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(up, 60, what="the cloud started with the override")
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
            log.close()
    finally:
        admin.close()


NOW = 1_000_000.0


@pytest.mark.parametrize(("case", "row", "want"), [
    ("never ran", None, True),
    ("ran a day ago", {"last_at": NOW - 86400, "lease_until": None, "next_at": None}, True),
    ("ran an hour ago", {"last_at": NOW - 3600, "lease_until": None, "next_at": None}, False),
    ("held by a live holder", {"last_at": 0, "lease_until": NOW + 5, "next_at": None}, False),
    ("its holder stopped renewing", {"last_at": 0, "lease_until": NOW - 1, "next_at": None},
     True),
    ("failed, backing off", {"last_at": 0, "lease_until": None, "next_at": NOW + 5}, False),
    ("failed, back-off over", {"last_at": 0, "lease_until": None, "next_at": NOW - 1}, True),
    ("failed after today's run", {"last_at": NOW - 60, "lease_until": None,
                                  "next_at": NOW - 1}, False),
])
def test_when_a_periodic_job_may_be_claimed(case, row, want):
    from cloud.jobs import due

    assert due(row, NOW, 86400) is want, case
