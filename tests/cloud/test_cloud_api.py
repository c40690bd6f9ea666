"""The cloud's HTTP API: every refusal is a 4xx with a stable reason (real HTTP)."""

from __future__ import annotations

import httpx
import pytest

from cloud.app import create_app
from cloud.settings import CloudSettings
from shared.clock import SystemClock
from shared.webthread import WebThread

ADMIN = "gpk_test_admin_key"


@pytest.fixture
def api(cloud_db):
    web = WebThread(create_app(CloudSettings(db=cloud_db, mqtt_url=None, admin_key=ADMIN),
                               SystemClock()),
                    "127.0.0.1", 0)
    web.start()
    c = httpx.Client(base_url=web.url, timeout=10, headers={"X-Api-Key": ADMIN})
    c.post("/api/v1/sites", json={"id": "green-acres"}).raise_for_status()
    c.post("/api/v1/sites", json={"id": "blue-oaks"}).raise_for_status()
    c.post("/api/v1/sites/green-acres/vehicles", json={"vrn": "MH12AB1234", "type": "4W"})
    yield c
    c.close()
    web.stop()


def refused(r: httpx.Response, status: int, reason: str) -> bool:
    return r.status_code == status and r.json()["detail"]["reason"] == reason


@pytest.mark.parametrize("vrn", ["MH12AB1234", "DL3CAF0001", "22BH1234AA", "ka 01 ab 1"])
def test_valid_indian_vrns(api, vrn):
    r = api.post("/api/v1/sites/blue-oaks/vehicles", json={"vrn": vrn, "type": "2W"})
    assert r.status_code == 201


@pytest.mark.parametrize("vrn", ["XX12AB1234", "12345", "MH12AB12345", "", "MH-!!"])
def test_invalid_vrns_are_refused(api, vrn):
    r = api.post("/api/v1/sites/blue-oaks/vehicles", json={"vrn": vrn})
    assert refused(r, 422, "invalid_vrn")


def test_tag_checks(api):
    post = api.post
    assert refused(post("/api/v1/sites/green-acres/tags", json={"epc": "XYZ"}), 422,
                   "invalid_epc")
    assert refused(post("/api/v1/sites/green-acres/tags",
                        json={"epc": "AAAA", "status": "active"}), 422, "no_vehicle")
    assert refused(post("/api/v1/sites/green-acres/tags",
                        json={"epc": "AAAA", "vrn": "DL3CAF0001"}), 422, "unknown_vehicle")
    assert refused(post("/api/v1/sites/green-acres/tags", json={
        "epc": "AAAA", "vrn": "MH12AB1234", "vehicle_type": "2W"}), 422,
        "vehicle_type_mismatch")
    assert post("/api/v1/sites/green-acres/tags",
                json={"epc": "aaaa", "vehicle_type": "4W"}).status_code == 201
    assert refused(post("/api/v1/sites/blue-oaks/tags", json={"epc": "AAAA"}), 409,
                   "tag_exists")
    r = post("/api/v1/tags/AAAA/activate", json={"vrn": "MH12AB1234"})
    assert r.status_code == 200 and api.get("/api/v1/tags/AAAA").json()["status"] == "active"
    assert refused(post("/api/v1/tags/BBBB/lock"), 404, "unknown_tag")
    assert refused(post("/api/v1/sites/nowhere/tags", json={"epc": "BBBB"}), 404, "unknown_site")


def test_activation_needs_a_vehicle_of_the_tags_own_site(api):
    api.post("/api/v1/sites/blue-oaks/vehicles", json={"vrn": "KA01AB0001"})
    api.post("/api/v1/sites/green-acres/tags", json={"epc": "CCCC"})
    assert refused(api.post("/api/v1/tags/CCCC/activate", json={"vrn": "KA01AB0001"}), 422,
                   "unknown_vehicle")
    api.post("/api/v1/tags/CCCC/block")
    assert refused(api.post("/api/v1/tags/CCCC/activate", json={"vrn": "MH12AB1234"}), 409,
                   "tag_blocked")


def test_every_change_bumps_the_version_once(api):
    v0 = api.get("/api/v1/sites/green-acres/rules").json()["version"]
    api.post("/api/v1/sites/green-acres/tags", json={"epc": "DDDD", "vrn": "MH12AB1234",
                                                     "status": "active"})
    api.post("/api/v1/tags/DDDD/lock", json={"until": "2026-11-24T18:00:00+05:30"})
    api.post("/api/v1/tags/DDDD/unlock")
    refused_call = api.post("/api/v1/tags/DDDD/activate", json={"vrn": "XX00"})
    assert refused_call.status_code == 422
    snap = api.get("/api/v1/sites/green-acres/rules").json()
    assert snap["version"] == v0 + 3
    assert [t["locked"] for t in snap["tags"] if t["epc"] == "DDDD"] == [False]


def test_a_vehicles_flat_reaches_the_rules(api):
    r = api.post("/api/v1/sites/green-acres/vehicles", json={"vrn": "KA01AB0001",
                                                             "flat": "C-101"})
    assert r.status_code == 201
    api.post("/api/v1/sites/green-acres/vehicles/bulk", json={"vehicles": [
        {"vrn": "DL3CAF0001", "type": "2W", "flat": "C-102"}]}).raise_for_status()
    snap = api.get("/api/v1/sites/green-acres/rules").json()
    flats = {v["vrn"]: v["flat"] for v in snap["vehicles"]}
    assert flats == {"MH12AB1234": None, "KA01AB0001": "C-101", "DL3CAF0001": "C-102"}


def test_unknown_fields_are_refused(api):
    r = api.post("/api/v1/sites/green-acres/vehicles", json={"vrn": "MH12AB1234", "colour": 1})
    assert r.status_code == 422


def test_openapi_docs_are_served(api):
    assert api.get("/docs").status_code == 200
    assert "/api/v1/sites/{site}/rules" in api.get("/openapi.json").json()["paths"]


def test_bad_requests_are_counted(api):
    before = api.get("/api/v1/health").json()["counters"]["rejected_requests"]
    api.post("/api/v1/sites", json={"nope": 1})
    api.post("/api/v1/sites/green-acres/tags", content=b"{not json",
             headers={"content-type": "application/json"})
    assert api.get("/api/v1/health").json()["counters"]["rejected_requests"] == before + 2


def test_numbers_past_their_bounds_are_refused_not_a_server_error(api):
    for path, params in (("/api/v1/audit", {"limit": "-143419333224681504768"}),
                         ("/api/v1/audit", {"limit": "99999999999999999999"}),
                         ("/api/v1/events", {"offset": str(2**70)}),
                         ("/api/v1/events", {"limit": "0"})):
        r = api.get(path, params=params)
        assert r.status_code == 422, (path, params, r.status_code, r.text)


def test_an_active_tag_moves_only_on_purpose_and_audited(api):
    api.post("/api/v1/sites/green-acres/vehicles", json={"vrn": "KA01AB0001", "type": "4W"})
    api.post("/api/v1/sites/green-acres/tags", json={"epc": "EEEE", "vrn": "MH12AB1234",
                                                     "status": "active"}).raise_for_status()
    v0 = api.get("/api/v1/sites/green-acres/rules").json()["version"]
    assert refused(api.post("/api/v1/tags/EEEE/activate", json={"vrn": "KA01AB0001"}), 409,
                   "tag_bound")
    assert refused(api.post("/api/v1/sites/green-acres/tags/bulk", json={"tags": [
        {"epc": "EEEE", "vrn": "KA01AB0001", "status": "active"}]}), 409, "tag_bound")
    assert refused(api.post("/api/v1/tags/EEEE/move", json={"vrn": "KA01AB0001",
                                                             "reason": " "}), 422,
                   "reason_required")
    # nor unbound by a bulk import (the first half of a move), nor unlocked by one
    assert refused(api.post("/api/v1/sites/green-acres/tags/bulk", json={"tags": [
        {"epc": "EEEE", "status": "inactive"}]}), 409, "tag_bound")
    snap = api.get("/api/v1/sites/green-acres/rules").json()
    assert snap["version"] == v0
    assert [t["vrn"] for t in snap["tags"] if t["epc"] == "EEEE"] == ["MH12AB1234"]
    api.post("/api/v1/tags/EEEE/lock")
    assert refused(api.post("/api/v1/tags/EEEE/move", json={"vrn": "KA01AB0001",
                                                             "reason": "sold"}), 409,
                   "tag_locked")
    assert refused(api.post("/api/v1/sites/green-acres/tags/bulk", json={"tags": [
        {"epc": "EEEE", "vrn": "MH12AB1234", "status": "active"}]}), 409, "tag_locked")
    api.post("/api/v1/tags/EEEE/unlock")
    moved = api.post("/api/v1/tags/EEEE/move", json={"vrn": "KA01AB0001",
                                                      "reason": "sold the car to C-101"})
    assert moved.status_code == 200
    snap = api.get("/api/v1/sites/green-acres/rules").json()
    assert snap["version"] == moved.json()["rules_version"] == v0 + 3
    assert [(t["vrn"], t["status"]) for t in snap["tags"] if t["epc"] == "EEEE"] == [
        ("KA01AB0001", "active")]
    notes = [a["note"] for a in api.get("/api/v1/audit").json()["audit"]
             if a["path"] == "/api/v1/tags/EEEE/move" and a["note"]]
    assert notes == ["moved from MH12AB1234 to KA01AB0001: sold the car to C-101"]
    assert refused(api.post("/api/v1/tags/EEEE/move", json={"vrn": "KA01AB0001",
                                                             "reason": "again"}), 409,
                   "same_vehicle")


def test_bulk_tags_keep_their_vehicle_type(api):
    api.post("/api/v1/sites/green-acres/vehicles", json={"vrn": "KA01AB0002", "type": "2W"})
    api.post("/api/v1/sites/green-acres/tags/bulk", json={"tags": [
        {"epc": "F001", "vehicle_type": "2W"}, {"epc": "F002", "vehicle_type": "4w"}]}
    ).raise_for_status()
    assert refused(api.post("/api/v1/tags/F001/activate", json={"vrn": "MH12AB1234"}), 422,
                   "vehicle_type_mismatch")
    assert refused(api.post("/api/v1/tags/F002/activate", json={"vrn": "KA01AB0002"}), 422,
                   "vehicle_type_mismatch")
    assert api.post("/api/v1/tags/F001/activate", json={"vrn": "KA01AB0002"}).status_code == 200
    assert refused(api.post("/api/v1/sites/green-acres/tags/bulk", json={"tags": [
        {"epc": "F003", "vrn": "MH12AB1234", "vehicle_type": "2W", "status": "active"}]}),
        422, "vehicle_type_mismatch")
    assert refused(api.post("/api/v1/sites/green-acres/tags/bulk", json={"tags": [
        {"epc": "F004", "vehicle_type": "3W"}]}), 422, "invalid_vehicle_type")
