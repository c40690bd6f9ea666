"""FITkit stickers, over real HTTP with the vehicle and FASTag registry simulators, on SQLite
and PostgreSQL: a sticker without an EPC binds the vehicle's FASTag when activated (or is
refused with the FASTag's own outcome), and the daily re-check moves the binding in one rules
change when the bank re-issues the FASTag, deactivates it when it is blacklisted, and changes
nothing when the registry is down."""

from __future__ import annotations

import httpx
import pytest

from hardware_sim.registry import FastagRegistrySim, VehicleRegistrySim
from shared.contract import RulesSnapshot
from tests.factories import cloud_api, refused, resident_app

GA = "green-acres"
FITKITS = """tag_id,secret,epc,vehicle_type,kind
FK-0001,483920,,4W,fitkit
FK-0002,120934,,4W,fitkit
GA-0001,555111,E2801160600002040000C001,4W,sticker
"""
FASTAG = "34161FA820328EE800000001"
REISSUED = "34161FA820328EE800000002"


@pytest.fixture
def sims():
    vehicles, fastags = VehicleRegistrySim().start(), FastagRegistrySim().start()
    for vrn in ("MH12AB1234", "MH12CD5678", "MH12EF9012"):
        vehicles.add(vrn, "4W", "Tata", "Nexon")
    fastags.issue("MH12AB1234", FASTAG)
    fastags.issue("MH12CD5678", "34161FA820328EE8000000FF", "blacklisted")
    yield vehicles, fastags
    vehicles.stop()
    fastags.stop()


@pytest.fixture
def app(cloud_db, sims):
    vehicles, fastags = sims
    with cloud_api(cloud_db, (GA,), vehicle_registry_url=vehicles.url,
                   fastag_registry_url=fastags.url) as staff:
        staff.post(f"/api/v1/sites/{GA}/tags/import", content=FITKITS,
                   headers={"Content-Type": "text/csv"}).raise_for_status()
        with resident_app(staff) as (_asha, me):
            yield staff, me, fastags


def activate(me: httpx.Client, vrn: str, tag_id: str = "FK-0001",
             secret: str = "483920") -> httpx.Response:
    return me.post("/api/v1/me/tags/activate", json={"vrn": vrn, "tag_id": tag_id,
                                                     "secret": secret})


def snapshot(staff: httpx.Client) -> RulesSnapshot:
    return RulesSnapshot.model_validate(staff.get(f"/api/v1/sites/{GA}/rules").json())


def test_import_takes_fitkits_without_an_epc_and_only_them(cloud_db) -> None:
    with cloud_api(cloud_db, (GA,)) as staff:
        def load(text: str) -> httpx.Response:
            return staff.post(f"/api/v1/sites/{GA}/tags/import", content=text,
                              headers={"Content-Type": "text/csv"})
        head = "tag_id,secret,epc,vehicle_type,kind\n"
        msg = refused(load(head + "FK-1,123456,,4W,fitkit\nFK-2,123456,E2801160600002040000C001"
                           ",4W,fitkit\n"), 422, "bad_row")
        assert msg.startswith("line 3:") and "no EPC of its own" in msg
        assert refused(load(head + "ST-1,123456,,4W,sticker\n"), 422, "bad_row").startswith(
            "line 2:")
        assert refused(load(head + "ST-1,123456,,4W,magic\n"), 422, "bad_row").startswith(
            "line 2:")
        assert load(head + "FK-1,123456,,4W,fitkit\n").json()["imported"] == 1
        got = staff.get("/api/v1/stickers/FK-1").json()
        assert (got["kind"], got["epc"], got["lifecycle"]) == ("fitkit", None, "inventory")
        assert snapshot(staff).tags == []  # nothing for the gate until it is bound


def test_fastag_outcomes_then_bound_the_gate_reads_the_fastag(app) -> None:
    staff, me, fastags = app
    before = snapshot(staff).version
    refused(activate(me, "MH12EF9012"), 404, "fastag_not_found")
    msg = refused(activate(me, "MH12CD5678"), 409, "fastag_inactive")
    assert "blacklisted" in msg
    fastags.mode = "down"
    refused(activate(me, "MH12AB1234"), 503, "provider_unavailable")
    assert snapshot(staff).version == before  # nothing changed
    fastags.mode = "ok"
    ok = activate(me, "MH12AB1234")
    assert ok.status_code == 200, ok.text
    assert (ok.json()["epc"], ok.json()["kind"]) == (FASTAG, "fitkit")
    tags = {t.epc: t for t in snapshot(staff).tags}
    assert (tags[FASTAG].status.value, tags[FASTAG].vrn) == ("active", "MH12AB1234")
    assert staff.get("/api/v1/stickers/FK-0001").json()["lifecycle"] == "active"
    refused(activate(me, "MH12AB1234"), 409, "tag_already_active")
    # A second FITkit for the same vehicle: one active tag per vehicle.
    refused(activate(me, "MH12AB1234", "FK-0002", "120934"), 409, "vehicle_already_tagged")


def test_daily_recheck_moves_deactivates_and_leaves_alone(app) -> None:
    staff, me, fastags = app
    assert activate(me, "MH12AB1234").status_code == 200
    assert me.post("/api/v1/me/vehicles/MH12AB1234/lock", json={}).status_code == 200
    v0 = snapshot(staff).version

    def recheck() -> dict[str, int]:
        r = staff.post("/api/v1/jobs/fastag-recheck")
        assert r.status_code == 200, r.text
        return dict(r.json()["rechecked"])

    assert recheck()["checked"] == 1 and snapshot(staff).version == v0  # unchanged: no change
    fastags.issue("MH12AB1234", REISSUED)  # the bank re-issued the FASTag
    fastags.mode = "down"
    assert recheck()["unavailable"] == 1 and snapshot(staff).version == v0
    fastags.mode = "ok"
    assert recheck()["moved"] == 1
    snap = snapshot(staff)
    assert snap.version == v0 + 1  # the old EPC out and the new in, in one change
    assert sorted((t.epc, t.status.value, t.vrn, t.locked) for t in snap.tags) == [
        (REISSUED, "active", "MH12AB1234", True),
        ("E2801160600002040000C001", "inactive", None, False)]  # the resident's lock moved with it
    assert staff.get("/api/v1/stickers/FK-0001").json()["epc"] == REISSUED
    audit = staff.get("/api/v1/audit", params={"limit": 20}).json()["audit"]
    assert any(f"moved from FASTag {FASTAG} to the re-issued {REISSUED}" in (a["note"] or "")
               for a in audit)
    fastags.issue("MH12AB1234", REISSUED, "blacklisted")
    assert recheck()["deactivated"] == 1
    assert {t.epc: t.status.value for t in snapshot(staff).tags}[REISSUED] == "inactive"
    fastags.issue("MH12AB1234", REISSUED, "active")
    assert recheck()["reactivated"] == 1
    assert {t.epc: t.status.value for t in snapshot(staff).tags}[REISSUED] == "active"
