"""A resident activates a sticker from the app, over real HTTP with the vehicle registry
simulator, on SQLite and PostgreSQL: every check in its order with its own code, brute force
locked out, a registry that is down changes nothing, and success puts the vehicle and the
active tag in one rules change."""

from __future__ import annotations

import httpx
import pytest

from hardware_sim.registry import VehicleRegistrySim
from shared.contract import RulesSnapshot
from tests.factories import cloud_api, refused, resident_app

GA = "green-acres"
STICKERS = {GA: """tag_id,secret,epc,vehicle_type
GA-0001,483920,E2801160600002040000C001,4W
GA-0002,120934,E2801160600002040000C002,2W
GA-0003,555111,E2801160600002040000C003,4W
""", "blue-oaks": """tag_id,secret,epc,vehicle_type
BO-0001,777000,E2801160600002040000D001,4W
"""}


@pytest.fixture
def registry():
    sim = VehicleRegistrySim().start()
    sim.add("MH12AB1234", "4W", "Maruti", "Swift")
    sim.add("KA01HL0001", "2W", "Honda", "Activa")
    sim.add("DL3CAF0001", "4W", "Tata", "Nexon")
    yield sim
    sim.stop()


@pytest.fixture
def app(cloud_db, registry):
    with cloud_api(cloud_db, tuple(STICKERS), vehicle_registry_url=registry.url) as staff:
        for site, text in STICKERS.items():
            staff.post(f"/api/v1/sites/{site}/tags/import", content=text,
                       headers={"Content-Type": "text/csv"}).raise_for_status()
        with resident_app(staff) as (asha, me):
            yield staff, me, asha


def activate(me: httpx.Client, vrn: str = "MH12AB1234", tag_id: str = "GA-0001",
             secret: str = "483920") -> httpx.Response:
    return me.post("/api/v1/me/tags/activate", json={"vrn": vrn, "tag_id": tag_id,
                                                     "secret": secret})


def test_every_check_in_its_order_then_the_tag_opens(app) -> None:
    staff, me, _asha = app
    refused(activate(me, vrn="XX"), 422, "vrn_invalid")
    refused(activate(me, vrn="MH14ZZ9999"), 404, "vehicle_not_found")
    # an unknown tag id answers as a wrong secret does: answers tell no one which ids exist
    assert refused(activate(me, tag_id="GA-9999"), 403, "secret_mismatch") == \
        refused(activate(me, secret="000000"), 403, "secret_mismatch")
    refused(activate(me, tag_id="BO-0001", secret="777000"), 409, "tag_other_society")
    refused(activate(me, tag_id="GA-0002", secret="120934"), 422, "vehicle_type_mismatch")
    ok = activate(me)
    assert ok.status_code == 200, ok.text
    got = ok.json()
    assert (got["status"], got["vrn"], got["site"], got["next"]) == (
        "active", "MH12AB1234", GA, ["fastag_recharge_offer"])
    refused(activate(me), 409, "tag_already_active")
    refused(activate(me, tag_id="GA-0003", secret="555111"), 409, "vehicle_already_tagged")
    snap = RulesSnapshot.model_validate(staff.get(f"/api/v1/sites/{GA}/rules").json())
    assert snap.version == got["rules_version"]
    tag = next(t for t in snap.tags if t.epc == "E2801160600002040000C001")
    assert (tag.status.value, tag.vrn) == ("active", "MH12AB1234")
    assert [(v.vrn, v.type.value, v.flat) for v in snap.vehicles] == [("MH12AB1234", "4W",
                                                                       "B-402")]
    mine = me.get("/api/v1/me").json()
    assert mine["vehicles"][0] | {"site": GA} == {"site": GA, "vrn": "MH12AB1234", "type": "4W",
                                                  "make": "Maruti", "model": "Swift",
                                                  "flat": "B-402"}
    assert staff.get("/api/v1/stickers/GA-0001").json()["lifecycle"] == "active"
    assert staff.get("/api/v1/tags/E2801160600002040000C001").json()["lifecycle"] == "active"


def test_a_tag_id_is_not_guessable(app) -> None:
    staff, me, _asha = app
    for _ in range(5):
        refused(activate(me, secret="000000"), 403, "secret_mismatch")
    msg = refused(activate(me), 429, "too_many_attempts")  # even the right code, for now
    assert "try again after" in msg
    audit = staff.get("/api/v1/audit", params={"limit": 50}).json()["audit"]
    assert sum("secret_mismatch: tag id GA-0001" in (a["note"] or "") for a in audit) == 5
    metrics = staff.get("/metrics").text
    assert 'gatepost_cloud_activations_refused_total{reason="secret_mismatch"} 5.0' in metrics
    assert 'gatepost_cloud_activations_refused_total{reason="too_many_attempts"} 1.0' in metrics


def test_a_registry_that_is_down_changes_nothing_and_is_not_hammered(app, registry) -> None:
    staff, me, _ = app
    before = staff.get(f"/api/v1/sites/{GA}/rules").json()["version"]
    for mode in ("down", "malformed"):
        registry.mode = mode
        refused(activate(me), 503, "provider_unavailable")
    registry.mode = "down"
    for _ in range(6):
        refused(activate(me), 503, "provider_unavailable")
    asked = registry.requests
    refused(activate(me), 503, "provider_unavailable")  # the breaker is open: not asked
    assert registry.requests == asked
    assert staff.get(f"/api/v1/sites/{GA}/rules").json()["version"] == before
    assert staff.get("/api/v1/stickers/GA-0001").json()["lifecycle"] == "inventory"


def test_a_resident_adds_a_vehicle_where_they_live(app) -> None:
    staff, me, _asha = app
    r = me.post("/api/v1/me/vehicles", json={"vrn": "ka 01 hl 0001"})
    assert r.status_code == 201, r.text
    assert (r.json()["type"], r.json()["make"]) == ("2W", "Honda")
    refused(me.post("/api/v1/me/vehicles", json={"vrn": "MH14ZZ9999"}), 404,
            "vehicle_not_found")
    refused(me.post("/api/v1/me/vehicles", json={"vrn": "DL3CAF0001", "site": "blue-oaks"}),
            409, "not_a_resident_here")
    ravi = staff.post("/api/v1/residents", json={"phone": "9876543211", "name": "Ravi",
                                                 "flats": [{"site": GA, "flat": "C-1"}]}).json()
    key = staff.post(f"/api/v1/residents/{ravi['id']}/keys").json()["key"]
    other = httpx.Client(base_url=str(me.base_url), timeout=30, headers={"X-Api-Key": key})
    refused(other.post("/api/v1/me/vehicles", json={"vrn": "KA01HL0001"}), 409,
            "vehicle_of_another_resident")
    other.close()
    # a resident's key is for the resident's routes only
    assert me.post("/api/v1/sites", json={"id": "x"}).status_code == 403
    refused(staff.get("/api/v1/me"), 403, "forbidden")


def test_lock_lost_replace_and_unblock(app) -> None:
    staff, me, asha = app
    assert activate(me).status_code == 200
    flatmate = staff.post("/api/v1/residents", json={
        "phone": "9876543212", "name": "Meera", "flats": [{"site": GA, "flat": "B-402"}]}
    ).json()
    key = staff.post(f"/api/v1/residents/{flatmate['id']}/keys").json()["key"]
    mate = httpx.Client(base_url=str(me.base_url), timeout=30, headers={"X-Api-Key": key})
    r = me.post("/api/v1/me/vehicles/MH12AB1234/lock", json={"until": "2099-01-01T00:00:00Z"})
    assert r.status_code == 200, r.text
    tag = staff.get("/api/v1/tags/E2801160600002040000C001").json()
    assert tag["locked"] and tag["locked_by"] == f"resident:{asha['id']}" and tag["locked_at"]
    seen = mate.get("/api/v1/me").json()["flat_vehicles"]  # the flat sees the lock
    assert [(v["vrn"], v["mine"], v["tags"][0]["locked"], v["tags"][0]["locked_by"])
            for v in seen] == [("MH12AB1234", False, True, f"resident:{asha['id']}")]
    assert mate.post("/api/v1/me/vehicles/MH12AB1234/unlock").status_code == 200
    assert not staff.get("/api/v1/tags/E2801160600002040000C001").json()["locked"]
    refused(mate.post("/api/v1/me/vehicles/DL3CAF0001/lock"), 404, "unknown_vehicle")
    # lost: blocked everywhere; a new sticker replaces it in one change
    assert me.post("/api/v1/me/vehicles/MH12AB1234/lost").status_code == 200
    assert staff.get("/api/v1/tags/E2801160600002040000C001").json()["lifecycle"] == "blocked"
    refused(me.post("/api/v1/me/vehicles/MH12AB1234/lock"), 409, "no_valid_tag")
    r = me.post("/api/v1/me/tags/replace", json={"vrn": "MH12AB1234", "tag_id": "GA-0003",
                                                 "secret": "555111"})
    assert r.status_code == 200, r.text
    assert staff.get("/api/v1/stickers/GA-0001").json()["lifecycle"] == "replaced"
    assert staff.get("/api/v1/stickers/GA-0003").json()["lifecycle"] == "active"
    snap = RulesSnapshot.model_validate(staff.get(f"/api/v1/sites/{GA}/rules").json())
    assert {t.epc: t.status.value for t in snap.tags if t.vrn == "MH12AB1234"} == {
        "E2801160600002040000C001": "blocked", "E2801160600002040000C003": "active"}
    # a replaced sticker is never unblocked; a blocked one is, with an audited reason
    refused(staff.post("/api/v1/tags/E2801160600002040000C001/unblock", json={"reason": "found"}),
            409, "tag_replaced")
    assert me.post("/api/v1/me/vehicles/MH12AB1234/lost").status_code == 200
    refused(staff.post("/api/v1/tags/E2801160600002040000C003/unblock", json={"reason": " "}),
            422, "reason_required")
    r = staff.post("/api/v1/tags/E2801160600002040000C003/unblock",
                   json={"reason": "found in the car park"})
    assert r.status_code == 200 and r.json()["lifecycle"] == "active"
    audit = staff.get("/api/v1/audit", params={"limit": 20}).json()["audit"]
    assert any("found in the car park" in (a["note"] or "") for a in audit)
    mate.close()
