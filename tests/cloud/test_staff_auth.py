"""Staff roles, API keys and the audit log over real HTTP; residents act for themselves only."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from cloud.app import create_app
from cloud.settings import CloudSettings
from cloud.storage.residents import legacy_id
from shared.clock import SystemClock
from shared.webthread import WebThread
from tests.factories import ADMIN, open_parking


@pytest.fixture
def cloud(cloud_db):
    web = WebThread(create_app(CloudSettings(db=cloud_db, mqtt_url=None, jobs_every_s=0,
                                             admin_key=ADMIN), SystemClock()), "127.0.0.1", 0)
    web.start()
    admin = httpx.Client(base_url=web.url, timeout=10, headers={"X-Api-Key": ADMIN})
    admin.post("/api/v1/sites", json={"id": "green-acres"}).raise_for_status()
    for g, d in (("p-in", "entry"), ("p-out", "exit")):
        admin.post("/api/v1/sites/green-acres/gates", json={"id": g, "direction": d}
                   ).raise_for_status()

    def key(name: str, roles: list[str], resident: str | None = None) -> httpx.Client:
        r = admin.post("/api/v1/staff", json={"name": name, "roles": roles,
                                               "resident": resident})
        r.raise_for_status()
        return httpx.Client(base_url=web.url, timeout=10,
                            headers={"Authorization": f"Bearer {r.json()['key']}"})

    yield web.url, admin, key
    web.stop()


def reason(r: httpx.Response) -> str:
    return str(r.json()["detail"]["reason"])


def test_no_key_no_entry_except_the_public_doors(cloud):
    url, admin, _ = cloud
    anon = httpx.Client(base_url=url, timeout=10)
    assert anon.get("/api/v1/health").status_code == 200
    assert anon.get("/openapi.json").status_code == 200
    for method, path in (("GET", "/api/v1/events"), ("POST", "/api/v1/sites"),
                         ("GET", "/api/v1/staff"), ("GET", "/api/v1/sites/green-acres/rules")):
        r = anon.request(method, path, json={"id": "x"})
        assert r.status_code == 401 and reason(r) == "unauthenticated", path
    bad = httpx.Client(base_url=url, timeout=10, headers={"X-Api-Key": "gpk_forged"})
    assert bad.get("/api/v1/events").status_code == 401
    # Every refusal is in the audit log, reads included, without the key that was tried.
    audit = admin.get("/api/v1/audit").json()["audit"]
    refused = [(a["method"], a["path"], a["note"]) for a in audit if a["status"] == 401]
    assert ("GET", "/api/v1/events", "no API key from 127.0.0.1") in refused
    assert ("GET", "/api/v1/sites/green-acres/rules", "no API key from 127.0.0.1") in refused
    assert ("GET", "/api/v1/events", "an unknown or revoked API key from 127.0.0.1") in refused
    assert "gpk_forged" not in str(audit)


def test_a_flood_of_refused_requests_is_counted_not_written_line_by_line(cloud):
    url, admin, _ = cloud
    anon = httpx.Client(base_url=url, timeout=10)
    for _ in range(70):
        assert anon.get("/api/v1/events").status_code == 401
    audit = admin.get("/api/v1/audit", params={"limit": 1000}).json()["audit"]
    assert sum(a["status"] == 401 for a in audit) == 60


def test_each_role_does_its_own_writes_only(cloud):
    _, admin, key = cloud
    viewer = key("Vera (view)", ["view_parkings"])
    editor = key("Ed (edit)", ["edit_parkings"])
    devices = key("Dev (devices)", ["manage_devices"])
    r = viewer.post("/api/v1/sites/green-acres/parkings", json={"id": "p1", "name": "P1"})
    assert r.status_code == 403 and reason(r) == "forbidden"
    assert editor.post("/api/v1/sites/green-acres/parkings",
                       json={"id": "p1", "name": "P1"}).status_code == 201
    assert viewer.get("/api/v1/parkings/p1").status_code == 200
    r = editor.put("/api/v1/sites/green-acres/gates/p-in/parking", json={"parking": "p1"})
    assert r.status_code == 403
    assert devices.put("/api/v1/sites/green-acres/gates/p-in/parking",
                       json={"parking": "p1"}).status_code == 200
    assert devices.post("/api/v1/parkings/p1/tariffs", json={
        "size": "small", "lower": 1, "upper": 5, "price": 10}).status_code == 403
    assert editor.post("/api/v1/sites", json={"id": "other"}).status_code == 403
    assert editor.get("/api/v1/staff").status_code == 403
    log = admin.get("/api/v1/audit").json()["audit"]
    seen = [(a["name"], a["method"], a["path"], a["status"]) for a in reversed(log)]
    assert ("Vera (view)", "POST", "/api/v1/sites/green-acres/parkings", 403) in seen
    assert ("Ed (edit)", "POST", "/api/v1/sites/green-acres/parkings", 201) in seen
    assert ("Dev (devices)", "PUT", "/api/v1/sites/green-acres/gates/p-in/parking", 200) in seen
    assert ("Ed (edit)", "GET", "/api/v1/staff", 403) in seen  # refused reads are audited
    assert not any(a["method"] == "GET" and a["status"] == 200 for a in log)


def test_revoked_key_stops_working(cloud):
    _, admin, key = cloud
    editor = key("Ed", ["edit_parkings"])
    sid = next(s["id"] for s in admin.get("/api/v1/staff").json()["staff"] if s["name"] == "Ed")
    assert admin.delete(f"/api/v1/staff/{sid}").status_code == 200
    assert editor.get("/api/v1/events").status_code == 401


def test_residents_rent_and_read_only_their_own(cloud):
    _, admin, key = cloud
    open_parking(admin, "1..2")
    other = admin.post("/api/v1/parkings/p1/subscriptions", json={
        "space": 2, "owner": "C-101", "vehicles": [{"vrn": "DL3CAF0001"}], "amount": 50}).json()
    me = key("B-402", [], resident="B-402")
    r = me.post("/api/v1/parkings/p1/subscriptions/resident", json={
        "space": 1, "owner": "C-101", "vehicles": [{"vrn": "MH12AB1234"}], "units": 2})
    assert r.status_code == 403  # not for someone else
    assert me.get(f"/api/v1/subscriptions/{other['id']}").status_code == 403
    assert me.post("/api/v1/sites/green-acres/parkings",
                   json={"id": "p2", "name": "P2"}).status_code == 403
    assert me.get("/api/v1/events").status_code == 403
    # the parking's rules, its spaces and prices are for residents to see
    assert me.get("/api/v1/parkings/p1").status_code == 200
    spaces = me.get("/api/v1/parkings/p1/spaces").json()["spaces"]
    assert spaces[1]["status"] == "unavailable" and spaces[1]["tenant"] is None
    assert me.get("/api/v1/parkings/p1/tariffs").status_code == 200
    assert me.get("/api/v1/parkings/p1/subscriptions").status_code == 403


def test_the_owner_chooses_users_who_then_see_and_open_for_it(cloud):
    _, admin, key = cloud
    open_parking(admin, "1")
    sub = admin.post("/api/v1/parkings/p1/subscriptions", json={
        "space": 1, "owner": "B-402", "vehicles": [{"vrn": "MH12AB1234"}], "amount": 50}).json()
    owner, family = key("B-402", [], resident="B-402"), key("B-403", [], resident="B-403")
    url, opening = f"/api/v1/subscriptions/{sub['id']}", "/api/v1/sites/green-acres/gates/p-in/open"
    assert family.get(url).status_code == 403
    refused = family.post(opening, json={"vrn": "MH12AB1234"})
    assert refused.status_code == 403 and refused.json()["detail"]["reason"] == "forbidden"
    assert family.put(f"{url}/users", json={"users": ["B-403"]}).status_code == 403
    got = owner.put(f"{url}/users", json={"users": ["B-403", "B-402", "B-403"]})
    assert got.status_code == 200 and got.json()["users"] == ["B-403"]
    # The key made for the owner name "B-402" acts for the resident that name became.
    assert got.json()["history"][-1]["detail"] == f"B-403 by resident:{legacy_id('B-402')}"
    assert family.get(url).json()["users"] == ["B-403"]
    # Past every rule check: only the broker is missing in this cloud without one.
    passed = family.post(opening, json={"vrn": "MH12AB1234"})
    assert passed.status_code == 503 and passed.json()["detail"]["reason"] == "no_broker"
    assert owner.post(opening, json={"vrn": "MH12AB1234"}).status_code == 503
    assert admin.put(f"{url}/users", json={"users": []}).json()["users"] == []
    assert family.post(opening, json={"vrn": "MH12AB1234"}).status_code == 403
    admin.post(f"{url}/deactivate", json={}).raise_for_status()
    late = admin.put(f"{url}/users", json={"users": ["B-403"]})
    assert late.status_code == 409 and late.json()["detail"]["reason"] == "not_editable"


def test_cli_add_staff_prints_a_working_key(tmp_path):
    p = subprocess.run([sys.executable, "-m", "gatepost.cli", "cloud", "add-staff",
                        "--data-dir", str(tmp_path), "--name", "Asha", "--roles",
                        "edit_parkings,view_parkings"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["roles"] == ["edit_parkings", "view_parkings"] and got["key"].startswith("gpk_")
    web = WebThread(create_app(CloudSettings(data_dir=tmp_path, mqtt_url=None, jobs_every_s=0)),
                    "127.0.0.1", 0)
    web.start()
    try:
        c = httpx.Client(base_url=web.url, timeout=10, headers={"X-Api-Key": got["key"]})
        assert c.get("/api/v1/events").status_code == 200
    finally:
        web.stop()
    bad = subprocess.run([sys.executable, "-m", "gatepost.cli", "cloud", "add-staff",
                          "--data-dir", str(tmp_path), "--name", "X", "--roles", "god"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "roles are" in bad.stderr


def test_cli_add_edge_prints_a_key_that_reads_only_its_sites_rules(tmp_path):
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "gatepost.cli", "cloud", *args,
                               "--data-dir", str(tmp_path)], capture_output=True, text=True,
                              timeout=60)

    p = cli("add-edge", "--edge", "gate-box-1:green-acres")
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["edge"] == "gate-box-1" and got["sites"] == ["green-acres"]
    admin = cli("add-staff", "--name", "Root", "--roles", "admin")
    web = WebThread(create_app(CloudSettings(data_dir=tmp_path, mqtt_url=None, jobs_every_s=0)),
                    "127.0.0.1", 0)
    web.start()
    try:
        root = httpx.Client(base_url=web.url, timeout=10,
                            headers={"X-Api-Key": json.loads(admin.stdout)["key"]})
        for site in ("green-acres", "blue-hills"):
            root.post("/api/v1/sites", json={"id": site}).raise_for_status()
        box = httpx.Client(base_url=web.url, timeout=10,
                           headers={"Authorization": f"Bearer {got['key']}"})
        assert box.get("/api/v1/sites/green-acres/rules").status_code == 200
        assert box.get("/api/v1/sites/blue-hills/rules").status_code == 403
        assert box.post("/api/v1/sites", json={"id": "x"}).status_code == 403
    finally:
        web.stop()
    bad = cli("add-edge", "--edge", "gate-box-1")
    assert bad.returncode == 2 and "EDGE:SITE" in bad.stderr
