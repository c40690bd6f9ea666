"""Walk-in visitors in the cloud, over real HTTP on SQLite and PostgreSQL: a box asks a flat
about a visitor at its own gate (never another box's), the flat's residents see it in their
app, the first answer stands, an unanswered request expires, and the gate's decision event
marks an approved request as used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.clock import FileClock
from tests.factories import cloud_api, refused

GA = "green-acres"


@pytest.fixture
def world(cloud_db, tmp_path):
    clock = tmp_path / "clock.json"
    FileClock.set_time(clock, datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
    with cloud_api(cloud_db, (GA, "blue-oaks"), clock=FileClock(clock)) as staff:
        for site, gate in ((GA, "main-in"), ("blue-oaks", "bo-in")):
            staff.post(f"/api/v1/sites/{site}/gates",
                       json={"id": gate, "direction": "entry"}).raise_for_status()
        keys = {}
        for edge, site, gate in (("box-ga", GA, "main-in"), ("box-bo", "blue-oaks", "bo-in")):
            r = staff.post("/api/v1/edges", json={"id": edge, "sites": [site],
                                                  "gates": [{"site": site, "gate": gate}]})
            keys[edge] = r.json()["key"]
        apps = {}
        for phone, name, flat in (("9800000101", "Asha Rao", "B-402"),
                                  ("9800000102", "Ravi Rao", "B-402"),
                                  ("9800000103", "Neighbour", "B-403")):
            who = staff.post("/api/v1/residents", json={
                "phone": phone, "name": name, "flats": [{"site": GA, "flat": flat}]}).json()
            key = staff.post(f"/api/v1/residents/{who['id']}/keys").json()["key"]
            apps[name] = (who["id"], key)
        yield staff, keys, apps, clock


def client(staff: httpx.Client, key: str) -> httpx.Client:
    return httpx.Client(base_url=str(staff.base_url), timeout=30, headers={"X-Api-Key": key})


ASK = {"gate": "main-in", "flat": "B-402", "name": "Ramesh", "kind": "delivery",
       "asked_by": "ravi"}


def test_a_box_asks_the_flat_and_the_first_answer_stands(world) -> None:
    staff, keys, apps, _clock = world
    with client(staff, keys["box-ga"]) as box, client(staff, keys["box-bo"]) as other, \
            client(staff, apps["Asha Rao"][1]) as asha, \
            client(staff, apps["Ravi Rao"][1]) as ravi, \
            client(staff, apps["Neighbour"][1]) as neighbour:
        # Another box may not ask about this site's gate, nor a box about a gate not its own.
        assert other.post(f"/api/v1/sites/{GA}/visitor-requests", json=ASK).status_code == 403
        refused(box.post(f"/api/v1/sites/{GA}/visitor-requests",
                         json=ASK | {"gate": "side-in"}), 403, "not_your_gate")
        refused(box.post(f"/api/v1/sites/{GA}/visitor-requests",
                         json=ASK | {"flat": "Z-999"}), 404, "unknown_flat")
        got = box.post(f"/api/v1/sites/{GA}/visitor-requests", json=ASK)
        assert got.status_code == 201, got.text
        req = got.json()
        assert (req["status"], req["residents"]) == ("pending", 2)
        # Both residents of the flat see it; the neighbour does not, and cannot answer it.
        for app in (asha, ravi):
            assert [r["id"] for r in app.get("/api/v1/me/visitor-requests").json()[
                "requests"]] == [req["id"]]
        assert neighbour.get("/api/v1/me/visitor-requests").json()["requests"] == []
        refused(neighbour.post(f"/api/v1/me/visitor-requests/{req['id']}/approve"), 404,
                "unknown_request")
        ok = asha.post(f"/api/v1/me/visitor-requests/{req['id']}/approve")
        assert ok.json()["status"] == "approved" and ok.json()["answered_name"] == "Asha Rao"
        msg = refused(ravi.post(f"/api/v1/me/visitor-requests/{req['id']}/deny"), 409,
                      "request_answered")
        assert "Asha Rao" in msg
        now = box.get(f"/api/v1/sites/{GA}/visitor-requests/{req['id']}").json()
        assert (now["status"], now["answered_by"]) == ("approved", apps["Asha Rao"][0])
        assert ravi.get("/api/v1/me/visitor-requests").json()["requests"] == []
        assert other.get(f"/api/v1/sites/{GA}/visitor-requests/{req['id']}"
                         ).status_code == 403


def test_an_unanswered_request_expires_and_an_approval_lapses(world) -> None:
    staff, keys, apps, clock = world
    with client(staff, keys["box-ga"]) as box, client(staff, apps["Asha Rao"][1]) as asha:
        first = box.post(f"/api/v1/sites/{GA}/visitor-requests", json=ASK).json()
        second = box.post(f"/api/v1/sites/{GA}/visitor-requests", json=ASK).json()
        asha.post(f"/api/v1/me/visitor-requests/{second['id']}/approve").raise_for_status()
        FileClock.advance(clock, timedelta(minutes=11))
        refused(asha.post(f"/api/v1/me/visitor-requests/{first['id']}/approve"), 409,
                "request_expired")
        for rid in (first["id"], second["id"]):
            assert box.get(f"/api/v1/sites/{GA}/visitor-requests/{rid}"
                           ).json()["status"] == "expired"
