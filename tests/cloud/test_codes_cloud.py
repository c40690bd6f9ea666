"""Access codes in the cloud, over real HTTP on SQLite and PostgreSQL: a site's settings, codes
issued to residents (a few each, unique forever), activation and cancelling, visitor passes with
a QR image, and what the gates get: keyed hashes, never a code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

import cloud.codes.keys
from shared.codes import CodeKey
from shared.contract import RulesSnapshot
from tests.factories import cloud_api, refused, resident_app

GA = "green-acres"


@pytest.fixture
def app(cloud_db):
    with cloud_api(cloud_db, (GA, "blue-oaks")) as staff, resident_app(staff) as (asha, me):
        yield staff, me, asha["id"]


def snapshot(staff: httpx.Client, site: str = GA) -> RulesSnapshot:
    return RulesSnapshot.model_validate(staff.get(f"/api/v1/sites/{site}/rules").json())


def test_settings_then_codes_issued_to_residents(app) -> None:
    staff, me, asha = app
    refused(staff.post(f"/api/v1/sites/{GA}/codes", json={"resident": asha}), 404, "no_codes")
    got = staff.put(f"/api/v1/sites/{GA}/codes/settings", json={"alphabet": "letters",
                                                               "length": 10}).json()
    assert (got["alphabet"], got["length"], got["per_person"], got["duration_days"]) == (
        "letters", 10, 2, 60)
    first = staff.post(f"/api/v1/sites/{GA}/codes", json={"resident": asha})
    assert first.status_code == 201, first.text
    code = first.json()["code"]
    assert len(code) == 10 and not set(code) & set("0O1I")
    assert first.json()["status"] == "issued" and first.json()["flat"] == "B-402"
    staff.post(f"/api/v1/sites/{GA}/codes", json={"resident": asha}).raise_for_status()
    refused(staff.post(f"/api/v1/sites/{GA}/codes", json={"resident": asha}), 409,
            "too_many_codes")
    staff.put("/api/v1/sites/blue-oaks/codes/settings", json={}).raise_for_status()
    refused(staff.post("/api/v1/sites/blue-oaks/codes", json={"resident": asha}), 409,
            "not_eligible")
    # The gates hold the hash under the site's key, never the code; its pepper goes only to
    # the site's own boxes (an admin's read has none: tests/cloud/test_code_keys.py).
    box = staff.post("/api/v1/edges", json={"id": "box-1", "sites": [GA]}).json()["key"]
    snap = snapshot(staff)
    assert snap.code_config is not None and snap.code_config.alphabet == "letters"
    assert snap.code_config.pepper is None and snap.code_config.key is None
    boxes = RulesSnapshot.model_validate(staff.get(f"/api/v1/sites/{GA}/rules", headers={
        "X-Api-Key": box}).json()).code_config
    assert boxes is not None and boxes.pepper is not None and boxes.salt is not None
    key = CodeKey(salt=bytes.fromhex(boxes.salt), pepper=bytes.fromhex(boxes.pepper),
                  cost=boxes.cost or 0)
    assert key.digest(code) in {c.hash for c in snap.codes}
    assert code not in staff.get(f"/api/v1/sites/{GA}/rules").text
    assert code not in staff.get(f"/api/v1/sites/{GA}/codes").text  # masked for staff
    mine = me.get("/api/v1/me/codes").json()["codes"]
    assert code in {c["code"] for c in mine}  # in clear for its holder
    cid = first.json()["id"]
    active = me.post(f"/api/v1/me/codes/{cid}/activate").json()
    assert active["status"] == "active"
    until = datetime.fromisoformat(active["valid_until"])
    assert timedelta(days=59) < until - datetime.fromisoformat(active["valid_from"]) \
        <= timedelta(days=60)
    refused(me.post(f"/api/v1/me/codes/{cid}/activate"), 409, "code_settled")
    assert staff.post(f"/api/v1/codes/{cid}/cancel").json()["status"] == "cancelled"
    assert {c.hash: c.status for c in snapshot(staff).codes}[key.digest(code)] == \
        "cancelled"
    # A cancelled code frees its holder's place for a new one.
    staff.post(f"/api/v1/sites/{GA}/codes", json={"resident": asha}).raise_for_status()


def test_a_code_is_never_issued_twice(app, monkeypatch) -> None:
    staff, _me, asha = app
    staff.put(f"/api/v1/sites/{GA}/codes/settings", json={"per_person": 4}).raise_for_status()
    draws = iter(["11112222", "11112222", "33334444"])
    monkeypatch.setattr(cloud.codes.keys, "draw", lambda alphabet, length: next(draws))
    assert staff.post(f"/api/v1/sites/{GA}/codes", json={"resident": asha}
                      ).json()["code"] == "11112222"
    second = staff.post(f"/api/v1/sites/{GA}/codes", json={"resident": asha}).json()
    assert second["code"] == "33334444"  # the repeat was drawn again
    staff.post(f"/api/v1/codes/{second['id']}/cancel").raise_for_status()
    draws = iter(["33334444", "55556666"])  # even a cancelled code is never issued again
    assert staff.post(f"/api/v1/sites/{GA}/codes", json={"resident": asha}
                      ).json()["code"] == "55556666"


def test_a_resident_issues_a_visitor_pass_with_a_qr(app) -> None:
    staff, me, _asha = app
    staff.put(f"/api/v1/sites/{GA}/codes/settings", json={}).raise_for_status()
    now = datetime.now(UTC)
    body = {"kind": "delivery", "name": "Ravi", "valid_from": now.isoformat(),
            "valid_until": (now + timedelta(hours=2)).isoformat()}
    refused(me.post("/api/v1/me/passes", json=body | {"kind": "burglar"}), 422, "bad_pass")
    refused(me.post("/api/v1/me/passes", json=body | {"valid_until": now.isoformat()}), 422,
            "bad_pass")
    p = me.post("/api/v1/me/passes", json=body)
    assert p.status_code == 201, p.text
    got = p.json()
    assert (got["status"], got["kind"], got["single_use"], got["label"]) == (
        "active", "visitor", True, "delivery: Ravi")
    svg = me.get(f"/api/v1/me/codes/{got['id']}/qr.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg")
    assert "<svg" in svg.text
    rule = next(c for c in snapshot(staff).codes if c.kind == "visitor")
    assert (rule.single_use, rule.flat, rule.label) == (True, "B-402", "delivery: Ravi")
    assert me.post(f"/api/v1/me/codes/{got['id']}/cancel").json()["status"] == "cancelled"
    refused(staff.get(f"/api/v1/me/codes/{got['id']}/qr.svg"), 403, "forbidden")
