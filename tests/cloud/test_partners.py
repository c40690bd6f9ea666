"""Partner visitor-management apps, over real HTTP with the partner simulator, the registries'
simulators and a real broker, on SQLite and PostgreSQL: a society's integration (its credential
never returned), connect outcomes after activation in both modes, opting in and out, the
forwarding outbox (exactly once, in order per vehicle, held while the partner is down, nothing
for an opted-out vehicle, surviving a restart), and the partner API's scope. The partner
simulator runs on loopback, which the cloud reaches only because these tests allow it
(``partner_internal_targets``); it knows each society's signing secret, so every call the
cloud makes to it must be signed."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hardware_sim.partner import PartnerSim
from hardware_sim.registry import VehicleRegistrySim
from shared.contract import Event
from shared.vocab import EventType
from tests.factories import linked_cloud, refused

GA, BO = "green-acres", "blue-oaks"
STICKERS = """tag_id,secret,epc,vehicle_type
GA-0001,111111,E2801160600002040000C001,4W
GA-0002,222222,E2801160600002040000C002,4W
GA-0003,333333,E2801160600002040000C003,4W
GA-0004,444444,E2801160600002040000C004,4W
"""
PEOPLE = {  # phone → (vrn, sticker, secret, how the partner knows the phone)
    "+919800000001": ("MH12AB0001", "GA-0001", "111111", "connected"),
    "+919800000002": ("MH12AB0002", "GA-0002", "222222", "connected"),
    "+919800000003": ("MH12AB0003", "GA-0003", "333333", "different_phone"),
    "+919800000004": ("MH12AB0004", "GA-0004", "444444", "not_mapped_to_society"),
}
LOOPBACK = "127.0.0.0/8"  # the simulator's address, allowed explicitly


def cloud(db: str, broker_url: str, registry_url: str
          ) -> AbstractContextManager[tuple[httpx.Client, Any]]:
    return linked_cloud(db, broker_url, vehicle_registry_url=registry_url,
                        partner_internal_targets=LOOPBACK)


@pytest.fixture
def world(cloud_db, broker):
    registry, partner = VehicleRegistrySim().start(), PartnerSim().start()
    for phone, (vrn, _t, _s, outcome) in PEOPLE.items():
        registry.add(vrn, "4W", "Maruti", "Swift")
        partner.set_user(phone, outcome)
    with cloud(cloud_db, broker.url, registry.url) as (staff, app):
        for site in (GA, BO):
            staff.post("/api/v1/sites", json={"id": site}).raise_for_status()
        staff.post(f"/api/v1/sites/{GA}/tags/import", content=STICKERS,
                   headers={"Content-Type": "text/csv"}).raise_for_status()
        keys = {}
        for phone in PEOPLE:
            who = staff.post("/api/v1/residents", json={
                "phone": phone, "name": f"R{phone[-1]}", "flats": [
                    {"site": GA, "flat": f"A-{phone[-1]}"}]}).json()
            keys[phone] = staff.post(f"/api/v1/residents/{who['id']}/keys").json()["key"]
        yield staff, app, partner, keys, (cloud_db, broker.url, registry.url)
    registry.stop()
    partner.stop()


def as_resident(staff: httpx.Client, key: str) -> httpx.Client:
    return httpx.Client(base_url=str(staff.base_url), timeout=30, headers={"X-Api-Key": key})


def integrate(staff: httpx.Client, partner: PartnerSim, name: str, **extra: str) -> dict:
    r = staff.put(f"/api/v1/sites/{GA}/partner", json={
        "partner": name, "endpoint": partner.endpoint(name), "credential": partner.token,
        **extra})
    assert r.status_code == 200, r.text
    partner.set_secret(name, GA, r.json()["signing_secret"])
    return dict(r.json())


def activate(staff: httpx.Client, key: str, phone: str) -> dict:
    vrn, tag_id, secret, _ = PEOPLE[phone]
    with as_resident(staff, key) as me:
        r = me.post("/api/v1/me/tags/activate", json={"vrn": vrn, "tag_id": tag_id,
                                                      "secret": secret})
    assert r.status_code == 200, r.text
    return dict(r.json())


def passes(vrn: str, first: int, n: int, gate: str = "main-in") -> list[Event]:
    """Passes made now (after the links they are judged by), a millisecond apart."""
    t0 = datetime.now(UTC)
    return [Event(id=f"{gate}:{first + i}", type=EventType.PASS, site=GA, edge="box-1",
                  gate=gate, seq=first + i, at=t0 + timedelta(milliseconds=first + i),
                  data={"vrn": vrn, "direction": "entry" if (first + i) % 2 else "exit"})
            for i in range(n)]


def test_integration_is_configured_and_its_credential_never_returned(world) -> None:
    staff, _app, partner, _keys, _ = world
    refused(staff.put(f"/api/v1/sites/{GA}/partner", json={
        "partner": "whatsgate", "endpoint": "http://x", "credential": "t"}), 422,
        "unknown_partner")
    refused(staff.get(f"/api/v1/sites/{GA}/partner"), 404, "no_partner")
    got = integrate(staff, partner, "mygate")
    assert (got["mode"], got["has_credential"]) == ("opt_out", True)
    assert integrate(staff, partner, "nobrokerhood")["mode"] == "opt_in"
    assert integrate(staff, partner, "zipgrid", mode="opt_out")["mode"] == "opt_out"
    assert partner.token not in staff.get(f"/api/v1/sites/{GA}/partner").text


def test_opt_out_mode_connects_on_activation_with_each_outcome(world) -> None:
    staff, _app, partner, keys, _ = world
    integrate(staff, partner, "mygate")
    phones = list(PEOPLE)
    got = activate(staff, keys[phones[0]], phones[0])["partner"]
    assert (got["partner"], got["state"]) == ("mygate", "connected")
    for phone, reason in ((phones[2], "different_phone"), (phones[3], "not_mapped_to_society")):
        got = activate(staff, keys[phone], phone)["partner"]
        assert (got["state"], got["reason"]) == ("user_not_found", reason)
        assert "MyGate" in got["next_step"]
    partner.mode = "down"
    got = activate(staff, keys[phones[1]], phones[1])["partner"]
    assert got["state"] == "error" and "try again later" in got["next_step"]
    partner.mode = "ok"
    with as_resident(staff, keys[phones[1]]) as me:  # the resident tries again
        r = me.put(f"/api/v1/me/vehicles/{PEOPLE[phones[1]][0]}/partner", json={"opted_in": True})
        assert r.json()["state"] == "connected", r.text
        assert me.get("/api/v1/me/partners").json()["partners"][0]["state"] == "connected"
    states = {link["vrn"]: (link["state"], link["reason"])
              for link in staff.get(f"/api/v1/sites/{GA}/partner").json()["links"]}
    assert states == {"MH12AB0001": ("connected", None), "MH12AB0002": ("connected", None),
                      "MH12AB0003": ("user_not_found", "different_phone"),
                      "MH12AB0004": ("user_not_found", "not_mapped_to_society")}
    at_partner = httpx.get(f"{partner.url}/_sim/connections").json()["connections"]
    assert {c["vrn"] for c in at_partner} == {"MH12AB0001", "MH12AB0002"}


def test_opt_in_mode_offers_then_connects_when_the_resident_opts_in(world) -> None:
    staff, _app, partner, keys, _ = world
    integrate(staff, partner, "nobrokerhood")
    phone = next(iter(PEOPLE))
    got = activate(staff, keys[phone], phone)
    assert got["partner"]["state"] == "offered"
    assert got["next"] == ["fastag_recharge_offer", "partner_offer"]
    assert not partner.connections
    with as_resident(staff, keys[phone]) as me:
        r = me.put("/api/v1/me/vehicles/MH12AB0001/partner", json={"opted_in": True})
        assert (r.json()["state"], r.json()["opted_in"]) == ("connected", True)
        refused(me.put("/api/v1/me/vehicles/MH12AB0009/partner", json={"opted_in": True}),
                404, "unknown_vehicle")


def test_forwarding_exactly_once_in_order_never_for_the_opted_out(world) -> None:
    staff, app, partner, keys, urls = world
    integrate(staff, partner, "mygate")
    a, b, c = list(PEOPLE)[:3]
    for phone in (a, b, c):
        activate(staff, keys[phone], phone)
    writer = app.state.services.link.writer
    partner.mode = "down"
    writer.write(passes("MH12AB0001", 1, 4) + passes("MH12AB0002", 11, 3)
                 + passes("MH12AB0003", 21, 2))  # the third is not connected
    writer.write(passes("MH12AB0001", 1, 4))  # sent again by the box: stored once, queued once
    writer.write([Event(id="main-in:99", type=EventType.DECISION, site=GA, edge="box-1",
                        gate="main-in", seq=99, at=datetime.now(UTC), data={"vrn": "MH12AB0001"})])
    got = staff.post("/api/v1/jobs/partner-forward").json()
    assert (got["sent"], got["pending"]) == (0, 7) and got["failed"] >= 1
    with as_resident(staff, keys[b]) as me:  # B opts out while its events wait
        r = me.put("/api/v1/me/vehicles/MH12AB0002/partner", json={"opted_in": False})
        assert (r.json()["state"], r.json()["cancelled"]) == ("opted_out", 3)
    writer.write(passes("MH12AB0002", 14, 2))  # after the opt-out: never queued
    partner.mode = "ok"
    # The cloud restarts before the partner is back: the outbox is in the database.
    app.state.services.link.stop()
    with cloud(*urls) as (staff2, _app2):
        got = staff2.post("/api/v1/jobs/partner-forward").json()
        assert (got["sent"], got["pending"]) == (4, 0)
        assert staff2.post("/api/v1/jobs/partner-forward").json()["sent"] == 0
        outbox = staff2.get(f"/api/v1/sites/{GA}/partner").json()["outbox"]
    assert outbox == {"pending": 0, "sent": 4, "cancelled": 3}
    got_events = partner.events("mygate")
    assert [e["id"] for e in got_events] == [f"{GA}:box-1:main-in:{i}" for i in (1, 2, 3, 4)]
    assert [e["direction"] for e in got_events] == ["entry", "exit", "entry", "exit"]
    assert {e["vrn"] for e in got_events} == {"MH12AB0001"}
    assert all(e["key"] == e["id"] and e["verified"] for e in got_events)


def test_a_lost_commit_sends_again_and_the_partner_keeps_one(world) -> None:
    staff, app, partner, keys, _ = world
    integrate(staff, partner, "mygate")
    phone = next(iter(PEOPLE))
    activate(staff, keys[phone], phone)
    app.state.services.link.writer.write(passes("MH12AB0001", 1, 2))
    assert staff.post("/api/v1/jobs/partner-forward").json()["sent"] == 2
    with app.state.services.db.write() as c:  # as if the process died before recording "sent"
        c.execute("UPDATE partner_outbox SET sent_at = NULL")
    posts = partner.posts
    assert staff.post("/api/v1/jobs/partner-forward").json()["sent"] == 2
    assert partner.posts == posts + 2 and len(partner.events()) == 2


def test_the_partner_api_reads_its_societies_and_nothing_else(world) -> None:
    staff, app, partner, keys, _ = world
    integrate(staff, partner, "mygate")
    phone = next(iter(PEOPLE))
    activate(staff, keys[phone], phone)
    app.state.services.link.writer.write(passes("MH12AB0001", 1, 2))
    key = staff.post("/api/v1/partner-keys", json={"partner": "mygate"}).json()["key"]
    other = staff.post("/api/v1/partner-keys", json={"partner": "zipgrid"}).json()["key"]
    with as_resident(staff, key) as p:
        assert p.get("/api/v1/partner/sites").json()["sites"] == [GA]
        vehicles = p.get(f"/api/v1/partner/sites/{GA}/vehicles").json()["vehicles"]
        assert [(v["vrn"], v["tags"][0]["status"]) for v in vehicles] == [
            ("MH12AB0001", "active")]
        tags = p.get(f"/api/v1/partner/sites/{GA}/tags")  # a connected vehicle's only
        assert [t["vrn"] for t in tags.json()["tags"]] == ["MH12AB0001"]
        assert "secret" not in tags.text
        events = p.get(f"/api/v1/partner/sites/{GA}/events").json()["events"]
        assert [(e["vrn"], e["direction"]) for e in events] == [("MH12AB0001", "entry"),
                                                               ("MH12AB0001", "exit")]
        for path in (f"/api/v1/partner/sites/{BO}/vehicles", "/api/v1/events",
                     f"/api/v1/sites/{GA}/rules", "/api/v1/me", f"/api/v1/sites/{GA}/partner"):
            refused(p.get(path), 403, "forbidden")
        refused(p.put(f"/api/v1/sites/{GA}/partner", json={}), 403, "forbidden")
    with as_resident(staff, other) as z:  # a partner the society is not integrated with
        refused(z.get(f"/api/v1/partner/sites/{GA}/tags"), 403, "forbidden")
