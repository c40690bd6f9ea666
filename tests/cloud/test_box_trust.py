"""A box speaks only for its own gates: the attacks of a compromised box, reproduced with its
own credentials on its own topics against the real locked-down Mosquitto and the real cloud,
and shown to get nothing accepted."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from cloud.app import create_app
from cloud.settings import CloudSettings
from cloud.society.provision import CLOUD_USER, EdgeGrant, edge_user, provision
from gatepost.devstack.broker import Broker
from gatepost.devstack.probes import ProbeBox as Box
from gatepost.devstack.stack import wait_until
from shared.clock import SystemClock
from shared.contract import Topics
from shared.vocab import EventType
from shared.webthread import WebThread

ADMIN = "gpk_test_admin_key"
CAR = {"vrn": "MH12AB1234", "type": "4W"}
P = "/api/v1/parkings/tower-a"


@pytest.fixture
def fleet(tmp_path: Path, cloud_db):
    auth = provision(tmp_path / "auth", [EdgeGrant("box-a", ("site-a",)),
                                         EdgeGrant("box-b", ("site-b",))])
    broker = Broker(tmp_path / "broker", password_file=auth.password_file,
                    acl_file=auth.acl_file)
    broker.start()
    app = create_app(CloudSettings(db=cloud_db, mqtt_url=broker.url, mqtt_user=CLOUD_USER,
                                   mqtt_password=auth.passwords[CLOUD_USER], admin_key=ADMIN,
                                   jobs_every_s=0, webhook_url="http://127.0.0.1:9/hook",
                                   webhook_secret="whsec_dGVzdA=="),
                     SystemClock())
    web = WebThread(app, "127.0.0.1", 0)
    app.state.services.link.start(app.state.services.rules)
    web.start()
    assert app.state.services.link.connected.wait(10)
    api = httpx.Client(base_url=web.url, timeout=10, headers={"X-Api-Key": ADMIN})

    def ok(method: str, url: str, **kw) -> dict:
        r = api.request(method, url, **kw)
        assert r.status_code < 300, r.text
        return r.json()

    for site in ("site-a", "site-b"):
        ok("POST", "/api/v1/sites", json={"id": site})
        ok("POST", f"/api/v1/sites/{site}/gates", json={"id": "main-in", "direction": "entry"})
    for g, d in (("p-in", "entry"), ("p-out", "exit")):
        ok("POST", "/api/v1/sites/site-a/gates", json={"id": g, "direction": d})
    ok("POST", "/api/v1/sites/site-a/parkings", json={"id": "tower-a", "name": "Tower A"})
    ok("POST", f"{P}/spaces", json={"numbers": "1..2", "size": "small"})
    ok("POST", f"{P}/tariffs", json={"size": "small", "unit": "daily", "lower": 1,
                                     "upper": 90, "price": 100})
    for g in ("p-in", "p-out"):
        ok("PUT", f"/api/v1/sites/site-a/gates/{g}/parking", json={"parking": "tower-a"})
    ok("POST", f"{P}/activate")
    ok("POST", "/api/v1/edges", json={"id": "box-a", "sites": ["site-a"], "gates": [
        {"site": "site-a", "gate": g} for g in ("main-in", "p-in", "p-out")]})
    ok("POST", "/api/v1/edges", json={"id": "box-b", "sites": ["site-b"]})
    boxes = {e: Box(broker.port, e, auth.passwords[edge_user(e)]) for e in ("box-a", "box-b")}
    yield api, ok, app, boxes
    for b in boxes.values():
        b.close()
    api.close()
    app.state.services.link.stop()
    web.stop()
    broker.stop()


def test_another_box_cannot_store_events_for_a_gate_or_steal_their_ids(fleet):
    api, _, app, boxes = fleet
    a, b = boxes["box-a"], boxes["box-b"]
    for seq in range(1, 21):  # box B names site A's gate with box A's next numbers
        b.event("site-a", "main-in", seq, outcome="open")
    for seq in range(1, 21):
        a.event("site-a", "main-in", seq, outcome="deny")
    counters = app.state.services.link.counters
    wait_until(lambda: counters["stored"] == 20 and counters["refused_event"] == 20, 10,
               what="box A's 20 stored, box B's 20 refused")
    stored = api.get("/api/v1/events", params={"site": "site-a"}).json()["events"]
    assert len(stored) == 20 and {e["edge"] for e in stored} == {"box-a"}
    assert {e["data"]["outcome"] for e in stored} == {"deny"}
    wait_until(lambda: len(a.acks) == 20, 5, what="box A's acks")
    assert b.acks == []  # never acknowledged: nothing of it was stored
    # Refused, audited once (not 20 times), and raised to staff.
    audit = api.get("/api/v1/audit").json()["audit"]
    lines = [x for x in audit if x["name"] == "edge:box-b" and x["method"] == "MQTT"]
    assert len(lines) == 1 and "site-a/main-in" in lines[0]["note"]
    alerts = app.state.services.db.conn.execute(
        "SELECT kind, body FROM notifications WHERE kind = 'edge_refused'").fetchall()
    assert len(alerts) == 1 and '"box-b"' in alerts[0]["body"]


def test_a_box_cannot_take_another_sites_gate_for_remote_opens(fleet):
    api, _, app, boxes = fleet
    a, b = boxes["box-a"], boxes["box-b"]
    b.claim(("site-a", "main-in"), ("site-b", "main-in"))
    counters = app.state.services.link.counters
    wait_until(lambda: counters["refused_gate_claim"] == 1, 5, what="the claim refused")
    # Box A is the gate's box by assignment, even before it has said so itself.
    r = api.post("/api/v1/sites/site-a/gates/main-in/open", json={"by": "staff"})
    assert r.status_code == 200, r.text
    assert r.json()["edge"] == "box-a" and len(a.commands) == 1 and b.commands == []
    wait_until(lambda: app.state.services.link.edge_of("site-b", "main-in") == "box-b", 5,
               what="box B's own claim")
    boxes_seen = {e["id"]: e for e in api.get("/api/v1/edges").json()["edges"]}
    assert boxes_seen["box-b"]["whole_sites"] == ["site-b"]
    assert {g["gate"] for g in boxes_seen["box-a"]["gates"]} == {"main-in", "p-in", "p-out"}


def test_an_answer_from_another_box_does_not_count(fleet):
    api, _, app, boxes = fleet
    a, b = boxes["box-a"], boxes["box-b"]
    a.answer = False  # box A is slow; box B learned the command's id and answers for it
    done: dict = {}
    t = threading.Thread(target=lambda: done.setdefault("r", api.post(
        "/api/v1/sites/site-a/gates/main-in/open", json={"by": "staff"})))
    t.start()
    wait_until(lambda: a.commands, 5, what="the command at box A")
    b.respond(a.commands[0]["id"])
    t.join(15)
    assert done["r"].status_code == 504 and done["r"].json()["detail"]["reason"] == "no_answer"
    assert app.state.services.link.counters["refused_command_response"] == 1


def test_a_forged_pass_puts_nobody_inside(fleet):
    api, ok, app, boxes = fleet
    a, b = boxes["box-a"], boxes["box-b"]
    sub = ok("POST", f"{P}/subscriptions", json={"space": 1, "owner": "Flat A-1",
                                                   "vehicles": [CAR], "amount": 300})
    # At site A's parking gate, and at its own gate naming site A's parking in the data.
    b.event("site-a", "p-in", 1, EventType.PASS, parking="tower-a", vrn=CAR["vrn"],
            direction="entry")
    b.event("site-b", "main-in", 1, EventType.PASS, parking="tower-a", vrn=CAR["vrn"],
            direction="entry")
    a.event("site-a", "main-in", 1, EventType.DECISION, outcome="open")  # a barrier
    counters = app.state.services.link.counters
    # The pass's parking is checked by a hook that runs just after the store is counted.
    wait_until(lambda: counters["stored"] == 2 and counters["refused_pass_parking"] >= 1, 10,
               what="box A's event and B's own-gate pass, handled")
    assert counters["refused_event"] == 1 and counters["refused_pass_parking"] == 1
    out = api.post(f"/api/v1/subscriptions/{sub['id']}/deactivate", json={})
    assert out.status_code == 200, out.text  # not 409 vehicle_inside
    rows = app.state.services.db.conn.execute("SELECT count(*) FROM occupancy_log").scalar()
    assert rows == 0


def test_a_gate_named_for_a_new_box_leaves_the_old_one(fleet):
    api, ok, app, _ = fleet
    ok("POST", "/api/v1/edges", json={"id": "box-c", "sites": ["site-a"],
                                      "gates": [{"site": "site-a", "gate": "main-in"}]})
    fleet_ = app.state.services.fleet
    assert fleet_.may_speak("box-c", "site-a", "main-in")
    assert not fleet_.may_speak("box-a", "site-a", "main-in")
    assert fleet_.may_speak("box-a", "site-a", "p-in")
    assert not fleet_.may_speak("box-c", "site-a", "p-in")  # held by name by box A
    moved = ok("PUT", "/api/v1/edges/box-a/assignment", json={"sites": ["site-a", "site-b"]})
    assert moved["whole_sites"] == ["site-a", "site-b"]
    assert fleet_.may_speak("box-a", "site-a", "p-in") and not fleet_.may_speak(
        "box-a", "site-a", "main-in")  # box C still holds main-in by name
    bad = api.post("/api/v1/edges", json={"id": "box-d", "sites": ["site-b"], "gates": [
        {"site": "site-a", "gate": "main-in"}]})
    assert bad.status_code == 422 and bad.json()["detail"]["reason"] == "gate_outside_sites"
    missing = api.put("/api/v1/edges/box-z/assignment", json={"sites": ["site-a"]})
    assert missing.status_code == 404 and missing.json()["detail"]["reason"] == "unknown_edge"


def test_oversized_and_overlong_messages_are_refused(fleet):
    api, _, app, boxes = fleet
    a = boxes["box-a"]
    counters = app.state.services.link.counters
    a.event("site-a", "main-in", 1, outcome="open", detail="x" * 100_000)  # 100 kB of data
    long_site = ('{"id": "main-in:2", "type": "decision", "site": "%s", "edge": "box-a", '
                 '"gate": "main-in", "seq": 2, "at": "2026-12-05T10:00:00+00:00"}' % ("s" * 5000))
    a.c.publish(Topics.edge_events("box-a"), long_site, qos=1)
    a.event("site-a", "main-in", 3, outcome="open")
    wait_until(lambda: counters["stored"] == 1, 10, what="the small event stored")
    assert counters["rejected_events"] == 2
    # A time without an offset means nothing: refused at the door, never taken into a batch
    # of the event writer (where comparing it with the partner links' times would fail the
    # whole batch, other boxes' events with it).
    naive = ('{"id": "main-in:4", "type": "decision", "site": "site-a", "edge": "box-a", '
             '"gate": "main-in", "seq": 4, "at": "2026-12-05T10:00:00"}')
    a.c.publish(Topics.edge_events("box-a"), naive, qos=1).wait_for_publish(5)
    wait_until(lambda: counters["rejected_events"] == 3, 10, what="the naive event refused")
    # 5 MB is over the broker's packet limit: the box is disconnected, nothing arrives.
    a.c.publish(Topics.edge_events("box-a"), b"{" + b" " * 5_000_000 + b"}", qos=1)
    assert a.dropped.wait(10)
    stored = api.get("/api/v1/events", params={"site": "site-a"}).json()["events"]
    assert [e["seq"] for e in stored] == [3]


def test_a_box_given_odd_sites_is_refused_or_taken_once(fleet):
    api, ok, _app, _ = fleet
    bad = api.post("/api/v1/edges", json={"id": "box-e", "sites": ["", "site-a"]})
    assert bad.status_code == 422  # not a 500
    gate = {"site": "site-b", "gate": "main-in"}
    twice = ok("POST", "/api/v1/edges", json={"id": "box-e", "sites": ["site-b", "site-b"],
                                              "gates": [gate, gate]})
    assert twice["sites"] == ["site-b"] and len(twice["gates"]) == 1


def test_a_process_learns_of_an_assignment_changed_by_another(cloud_db, monkeypatch):
    # Two cloud processes on one database: what one changes, the other's cached view of the
    # assignments follows within CACHE_S, read in the background (no message waits for it).
    import cloud.fleet as fleet_mod
    from cloud.fleet import Fleet
    from cloud.storage import Database

    one, other = Database(cloud_db), Database(cloud_db)
    try:
        ours, theirs = Fleet(one, SystemClock()), Fleet(other, SystemClock())
        theirs.assign("box-a", ["site-a"])
        theirs.assign("box-c", ["site-c"])
        assert ours.warm() == 2  # every site at start, in one read
        assert ours.may_speak("box-a", "site-a", "main-in")
        assert not ours.may_speak("box-c", "site-a", "main-in")
        assert ours.refresh() == 0  # just read: nothing due yet
        theirs.assign("box-b", ["site-a"], [fleet_mod.GateRef("site-a", "main-in")])
        assert ours.may_speak("box-a", "site-a", "main-in")  # trusted for now
        monkeypatch.setattr(fleet_mod, "CACHE_S", 0.0)  # as if CACHE_S had passed
        assert ours.refresh() == 2
        monkeypatch.setattr(fleet_mod, "CACHE_S", 5.0)
        assert not ours.may_speak("box-a", "site-a", "main-in")
        assert ours.may_speak("box-b", "site-a", "main-in")
        assert ours.may_speak("box-a", "site-a", "p-in")  # the rest of the site is still A's
        monkeypatch.setattr(fleet_mod, "UNUSED_S", 0.0)  # nobody spoke for it since
        assert ours.refresh() == 0 and ours.refresh() == 0  # forgotten, not read again
    finally:
        one.close()
        other.close()
