"""Schedules in the cloud over real HTTP, on SQLite and PostgreSQL: the site's time zone,
named schedules, bindings of vehicles, tag groups and subscriptions, every refusal with its
reason, and what the gates get of them (deltas and both snapshot shapes)."""

from __future__ import annotations

import json

import pytest

from edge.store.cache import RulesCache
from edge.store.db import EdgeDB
from shared.contract import RulesSnapshot
from tests.factories import Api, activate, parking_api, staff_sub

S = "/api/v1/sites/green-acres"
HELPERS = {"label": "Helpers", "holidays": ["2026-12-25"],
           "windows": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat"], "start": "07:00",
                        "end": "19:00"}]}
EPCS = ["E2801160600002040000AB01", "E2801160600002040000AB02"]


@pytest.fixture
def api(tmp_path, cloud_db):
    with parking_api(tmp_path, cloud_db) as a:
        yield a


@pytest.fixture
def site(api: Api) -> Api:
    api.ok("POST", f"{S}/vehicles", 201, json={"vrn": "KA01HL0001", "type": "2W"})
    api.ok("POST", f"{S}/tags/bulk", 201, json={"tags": [
        {"epc": e, "vrn": "KA01HL0001", "status": "active"} for e in EPCS]})
    return api


def test_a_schedule_needs_the_sites_time_zone_and_a_valid_shape(site: Api) -> None:
    site.refused("PUT", f"{S}/schedules/helpers", 422, "no_timezone", json=HELPERS)
    site.refused("PUT", f"{S}/timezone", 422, "invalid_timezone", json={"timezone": "IST"})
    site.refused("POST", "/api/v1/sites", 422, "invalid_timezone",
                 json={"id": "blue-oaks", "timezone": "Mars/Olympus"})
    site.ok("PUT", f"{S}/timezone", json={"timezone": "Asia/Kolkata"})
    msg = site.refused("PUT", f"{S}/schedules/helpers", 422, "invalid_schedule", json={
        "windows": [{"days": ["mon"], "start": "07:00", "end": "07:00"}]})
    assert "same time" in msg
    assert site.c.put(f"{S}/schedules/helpers", json={
        "windows": [{"days": ["funday"], "start": "07:00", "end": "19:00"}]}).status_code == 422
    site.refused("PUT", f"{S}/schedules/bad%20name", 422, "invalid_schedule", json=HELPERS)
    site.refused("PUT", "/api/v1/sites/nowhere/schedules/helpers", 404, "unknown_site",
                 json=HELPERS)
    v = site.ok("PUT", f"{S}/schedules/helpers", json=HELPERS)["rules_version"]
    listed = site.ok("GET", f"{S}/schedules")
    assert listed["timezone"] == "Asia/Kolkata"
    assert listed["schedules"] == [{
        "name": "helpers", "timezone": "Asia/Kolkata", "label": "Helpers",
        "windows": HELPERS["windows"], "holidays": ["2026-12-25"],
        "describe": "Mon–Sat 07:00–19:00; closed on 1 holiday",
        "bound": {"vehicles": 0, "tags": 0, "subscriptions": 0, "codes": 0}}]
    assert site.ok("PUT", f"{S}/timezone", json={"timezone": "Asia/Dubai"})["rules_version"] \
        == v + 1


def test_bindings_are_one_change_and_refuse_what_the_site_lacks(site: Api) -> None:
    site.ok("PUT", f"{S}/timezone", json={"timezone": "Asia/Kolkata"})
    site.ok("PUT", f"{S}/schedules/helpers", json=HELPERS)
    body = {"schedule": "helpers", "vehicles": ["ka01hl0001"], "tags": EPCS}
    site.refused("POST", f"{S}/schedule-bindings", 404, "unknown_schedule",
                 json={**body, "schedule": "nights"})
    site.refused("POST", f"{S}/schedule-bindings", 404, "unknown_tag",
                 json={**body, "tags": [*EPCS, "E2801160600002040000FFFF"]})
    site.refused("POST", f"{S}/schedule-bindings", 404, "unknown_vehicle",
                 json={**body, "vehicles": ["DL3CAF0001"]})
    site.refused("POST", f"{S}/schedule-bindings", 404, "unknown_subscription",
                 json={**body, "subscriptions": ["S-404"]})
    # nothing of a refused binding was kept
    assert site.ok("GET", f"{S}/schedules")["schedules"][0]["bound"] == \
        {"vehicles": 0, "tags": 0, "subscriptions": 0, "codes": 0}
    site.ok("POST", f"{S}/schedule-bindings", json=body)
    assert site.ok("GET", f"{S}/schedules")["schedules"][0]["bound"] == \
        {"vehicles": 1, "tags": 2, "subscriptions": 0, "codes": 0}
    msg = site.refused("DELETE", f"{S}/schedules/helpers", 409, "schedule_in_use")
    assert "1 vehicles" in msg and "2 tags" in msg
    # a vehicle listed again in a bulk import keeps its schedule
    site.ok("POST", f"{S}/vehicles/bulk", 201, json={"vehicles": [{"vrn": "KA01HL0001",
                                                                    "type": "2W"}]})
    snap = RulesSnapshot.model_validate(site.ok("GET", f"{S}/rules"))
    assert [v.schedule for v in snap.vehicles] == ["helpers"]
    assert {t.schedule for t in snap.tags} == {"helpers"}
    assert [(s.name, s.timezone) for s in snap.schedules] == [("helpers", "Asia/Kolkata")]
    site.ok("POST", f"{S}/schedule-bindings", json={**body, "schedule": None})
    site.refused("DELETE", f"{S}/schedules/nights", 404, "unknown_schedule")
    site.ok("DELETE", f"{S}/schedules/helpers")
    assert site.ok("GET", f"{S}/schedules")["schedules"] == []


def test_a_subscription_keeps_its_schedule_and_its_extension_inherits_it(site: Api) -> None:
    activate(site)
    s = staff_sub(site)
    site.ok("PUT", f"{S}/timezone", json={"timezone": "Asia/Kolkata"})
    site.ok("PUT", f"{S}/schedules/helpers", json=HELPERS)
    site.ok("POST", f"{S}/schedule-bindings", json={"schedule": "helpers",
                                                    "subscriptions": [s["id"]]})
    nxt = site.ok("POST", f"/api/v1/subscriptions/{s['id']}/extend", 201, json={"amount": 200})
    snap = RulesSnapshot.model_validate(site.ok("GET", f"{S}/rules"))
    assert {x.id: x.schedule for x in snap.subscriptions} == {s["id"]: "helpers",
                                                              nxt["id"]: "helpers"}
    assert site.ok("GET", f"{S}/schedules")["schedules"][0]["bound"]["subscriptions"] == 2


def test_the_gates_get_schedules_in_both_snapshot_shapes(site: Api, tmp_path) -> None:
    plain = site.c.get(f"{S}/rules").text
    assert "schedule" not in plain, "a site without schedules sends what older boxes read"
    site.ok("PUT", f"{S}/timezone", json={"timezone": "Asia/Kolkata"})
    site.ok("PUT", f"{S}/schedules/helpers", json=HELPERS)
    site.ok("POST", f"{S}/schedule-bindings", json={"schedule": "helpers", "tags": EPCS[:1],
                                                    "vehicles": ["KA01HL0001"]})
    lines = site.c.get(f"{S}/rules", headers={"Accept": "application/x-ndjson"}).text
    head = json.loads(lines.splitlines()[0])
    assert [s["name"] for s in head["schedules"]] == ["helpers"]
    cache = RulesCache(EdgeDB(tmp_path / "edge.sqlite"))
    cache.apply_snapshot_lines(lines.splitlines())
    sched = cache.schedule("green-acres", "helpers")
    assert sched is not None and sched.describe().startswith("Mon–Sat 07:00–19:00")
    assert cache.vehicle_schedule("green-acres", "KA01HL0001") == "helpers"
    assert [t.schedule for t in sorted(cache.tags_of("KA01HL0001"), key=lambda t: t.epc)] == \
        ["helpers", None]
    whole = RulesSnapshot.model_validate(site.ok("GET", f"{S}/rules"))
    assert [s.name for s in whole.schedules] == ["helpers"]
