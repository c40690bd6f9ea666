"""Who gets access codes and how they renew, over real HTTP on SQLite and PostgreSQL: eligible
kinds of people, companies never, committee members while their mandate is live; the free and
subscription regimes with the courtesy month; the daily renewal job on the cloud's clock; the
check report; the codes reports in CSV and Excel."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.clock import FileClock
from shared.contract import RulesSnapshot
from tests.factories import cloud_api, refused, resident_app

GA = "green-acres"
START = datetime(2027, 1, 4, 6, 0, tzinfo=UTC)


@pytest.fixture
def site(cloud_db, tmp_path):
    clock_path = tmp_path / "clock.json"
    FileClock.set_time(clock_path, START)
    with cloud_api(cloud_db, (GA,), clock=FileClock(clock_path)) as staff:
        staff.put(f"/api/v1/sites/{GA}/codes/settings", json={}).raise_for_status()
        yield staff, clock_path


def person(staff: httpx.Client, phone: str, name: str, flat: str | None = "A-101",
           role: str = "owner") -> str:
    flats = [{"site": GA, "flat": flat, "role": role}] if flat else []
    r = staff.post("/api/v1/residents", json={"phone": phone, "name": name, "flats": flats})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def issue(staff: httpx.Client, resident: str) -> httpx.Response:
    return staff.post(f"/api/v1/sites/{GA}/codes", json={"resident": resident})


def seat(staff: httpx.Client, resident: str, **seat_: object) -> dict:
    r = staff.put(f"/api/v1/sites/{GA}/committee/{resident}", json=seat_)
    assert r.status_code == 200, r.text
    return r.json()


def gate_codes(staff: httpx.Client) -> dict[str, str]:
    snap = RulesSnapshot.model_validate(staff.get(f"/api/v1/sites/{GA}/rules").json())
    return {c.label: c.status for c in snap.codes}


def run_job(staff: httpx.Client) -> dict[str, int]:
    r = staff.post("/api/v1/jobs/codes-renewal")
    assert r.status_code == 200, r.text
    return r.json()["codes"]


def test_who_gets_codes_and_under_which_regime(site) -> None:
    staff, _ = site
    owner = person(staff, "9800000001", "Owner Rao")
    sub = issue(staff, owner).json()
    assert sub["regime"] == "subscription"
    pay = staff.post(f"/api/v1/sites/{GA}/codes/payments",
                     json={"resident": owner, "paid_through": "2027-01-01"})
    refused(pay, 409, "paid_already")  # the courtesy month already covers it
    # A company is never eligible, whatever its flats.
    firm = person(staff, "9800000002", "Rao Holdings Pvt Ltd", "A-102")
    staff.patch(f"/api/v1/residents/{firm}", json={"company": True}).raise_for_status()
    assert "a company" in refused(issue(staff, firm), 409, "not_eligible")
    # An external professional on the committee, with a live mandate: free codes.
    pro = person(staff, "9800000003", "Meera (manager)", None)
    refused(issue(staff, pro), 409, "not_eligible")
    got = seat(staff, pro, role="president", external=True, mandate_start="2026-04-01",
               mandate_end="2028-03-31")
    assert got["live"] is True
    assert issue(staff, pro).json()["regime"] == "free"
    # A mandate that has ended, or not started, gives nothing.
    past = person(staff, "9800000004", "Former Secretary", None)
    seat(staff, past, role="secretary", external=True, mandate_start="2024-04-01",
         mandate_end="2026-03-31")
    refused(issue(staff, past), 409, "not_eligible")
    # A site may give codes to its committee only.
    staff.put(f"/api/v1/sites/{GA}/codes/settings",
              json={"eligible": ["committee"]}).raise_for_status()
    refused(issue(staff, owner), 409, "not_eligible")
    assert staff.put(f"/api/v1/sites/{GA}/codes/settings",
                     json={"eligible": ["companies"]}).status_code == 422
    # A subscription duration under 45 days is raised to 45.
    cfg = staff.put(f"/api/v1/sites/{GA}/codes/settings", json={"subscription_days": 30}).json()
    assert cfg["subscription_days"] == 45 and cfg["eligible"] == ["committee"]


def test_the_daily_job_renews_free_and_paid_codes_and_lets_the_rest_lapse(site) -> None:
    staff, clock = site
    paid = person(staff, "9800000011", "Paid Patel", "B-201")
    unpaid = person(staff, "9800000012", "Unpaid Iyer", "B-202")
    chair = person(staff, "9800000013", "Chair Das", "B-203")
    seat(staff, chair, role="president", flat="B-203", mandate_start="2026-01-01",
         mandate_end="2027-04-15")
    ids = {}
    for who in (paid, unpaid, chair):
        code = issue(staff, who).json()
        key = staff.post(f"/api/v1/residents/{who}/keys").json()["key"]
        with httpx.Client(base_url=str(staff.base_url), headers={"X-Api-Key": key}) as me:
            act = me.post(f"/api/v1/me/codes/{code['id']}/activate")
            assert act.status_code == 200, act.text
        ids[who] = code["id"]
    idle = issued = issue(staff, chair).json()  # a free code never activated
    assert run_job(staff) == {"checked": 0, "renewed": 0, "lapsing": 0, "expired": 0,
                              "issued": 0}
    # Two days before the 60 days end: the free code is renewed, the paid one too; the unpaid
    # one's courtesy month is long over, so it lapses (still usable to its end).
    FileClock.set_time(clock, START + timedelta(days=58, hours=1))
    staff.post(f"/api/v1/sites/{GA}/codes/payments",
               json={"resident": paid, "paid_through": "2027-03-31"}).raise_for_status()
    got = run_job(staff)
    assert got == {"checked": 3, "renewed": 2, "lapsing": 1, "expired": 0, "issued": 0}
    assert run_job(staff) == {"checked": 1, "renewed": 0, "lapsing": 1, "expired": 0,
                              "issued": 0}
    codes = {c["id"]: c for c in staff.get(f"/api/v1/sites/{GA}/codes").json()["codes"]}
    for who in (paid, chair):
        until = datetime.fromisoformat(codes[ids[who]]["valid_until"])
        assert until > START + timedelta(days=119) and codes[ids[who]]["renewed_at"]
    assert codes[ids[unpaid]]["status"] == "active"
    # Past its end the unpaid code is expired, and the gates hear it.
    FileClock.set_time(clock, START + timedelta(days=60, hours=1))
    assert run_job(staff)["expired"] == 1
    assert gate_codes(staff)["Unpaid Iyer"] == "expired"
    # The chair's mandate ended: at the next check the free code lapses, then expires; the
    # code never activated is not renewed either and expires with its window.
    FileClock.set_time(clock, START + timedelta(days=118, hours=1))
    staff.post(f"/api/v1/sites/{GA}/codes/payments",
               json={"resident": paid, "paid_through": "2027-06-30"}).raise_for_status()
    assert run_job(staff) == {"checked": 2, "renewed": 1, "lapsing": 1, "expired": 0,
                              "issued": 0}
    FileClock.set_time(clock, START + timedelta(days=121))
    run_job(staff)
    codes = {c["id"]: c for c in staff.get(f"/api/v1/sites/{GA}/codes").json()["codes"]}
    assert codes[ids[chair]]["status"] == "expired"
    assert codes[ids[paid]]["status"] == "active"  # renewed again: paid through June
    assert codes[idle["id"]]["status"] == issued["status"] == "issued"  # 5 years to activate


def test_a_free_code_never_activated_keeps_its_activation_window(site) -> None:
    staff, clock = site
    staff.put(f"/api/v1/sites/{GA}/codes/settings",
              json={"activation_days": 10}).raise_for_status()
    chair = person(staff, "9800000021", "Chair Nair", "C-301")
    seat(staff, chair, role="president", flat="C-301", mandate_start="2026-01-01")
    owner = person(staff, "9800000022", "Owner Khan", "C-302")
    free, sub = issue(staff, chair).json(), issue(staff, owner).json()
    FileClock.set_time(clock, START + timedelta(days=9))
    assert run_job(staff) == {"checked": 2, "renewed": 1, "lapsing": 1, "expired": 0,
                              "issued": 0}
    FileClock.set_time(clock, START + timedelta(days=10, hours=1))
    assert run_job(staff)["expired"] == 1
    codes = {c["id"]: c for c in staff.get(f"/api/v1/sites/{GA}/codes").json()["codes"]}
    assert codes[free["id"]]["status"] == "issued"
    assert datetime.fromisoformat(codes[free["id"]]["activate_by"]) > \
        START + timedelta(days=19)
    assert codes[sub["id"]]["status"] == "expired"


def test_check_report_and_codes_reports(site) -> None:
    staff, _ = site
    a = person(staff, "9800000031", "Anil Owner", "D-401")
    b = person(staff, "9800000032", "Bina Wife", None)
    c = person(staff, "9800000033", "Chandra NoStart", "D-403")
    d = person(staff, "9800000034", "Dev Lapsed", "D-404")
    e = person(staff, "9800000035", "Estate Co", None)
    t = person(staff, "9800000036", "Tara Tenant", "D-405", role="tenant")
    staff.patch(f"/api/v1/residents/{e}", json={"company": True}).raise_for_status()
    seat(staff, a, role="president", flat="D-401", mandate_start="2026-01-01")
    seat(staff, b, role="secretary", flat="D-401", mandate_start="2026-01-01")
    seat(staff, c, role="treasurer", flat="D-403")
    seat(staff, d, role="member", flat="D-404", mandate_start="2025-01-01",
         mandate_end="2026-06-30")
    seat(staff, e, role="member", mandate_start="2026-01-01")
    for who in (a, d, t):
        assert issue(staff, who).status_code == 201
    issues = staff.get(f"/api/v1/sites/{GA}/codes/check").json()["issues"]
    found = {(i["name"], i["issue"]) for i in issues}
    assert found >= {("Bina Wife", "not_unit_resident"),
                     ("Chandra NoStart", "mandate_without_start"),
                     ("Dev Lapsed", "mandate_expired"), ("Estate Co", "company"),
                     ("Estate Co", "no_unit_or_external")}
    assert ("Anil Owner", "mandate_without_start") not in found
    # Per unit, sorted by site and unit, codes in clear.
    text = staff.get("/api/v1/reports/codes.csv", params={"sites": GA, "by": "unit"}).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["Unit"] for r in rows] == ["D-401", "D-404", "D-405"]
    assert all(len(r["Code"]) == 8 and r["Code"].isdigit() for r in rows)
    # Times on the site's clock with their offset (an Indian site with no zone set: India's).
    assert all(r["Issued"].endswith("+05:30") for r in rows)
    tenants = list(csv.DictReader(io.StringIO(staff.get(
        "/api/v1/reports/codes.csv", params={"sites": GA, "by": "tenant"}).text)))
    assert [r["Name"] for r in tenants] == ["Tara Tenant"]
    board = list(csv.DictReader(io.StringIO(staff.get(
        "/api/v1/reports/codes.csv", params={"sites": GA, "by": "committee"}).text)))
    assert [(r["Name"], r["Role"]) for r in board] == [
        ("Dev Lapsed", "committee: member (mandate not live)"),
        ("Anil Owner", "committee: president")]
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(staff.get("/api/v1/reports/codes-check.xlsx",
                                              params={"sites": GA}).content))
    sheet = [list(r) for r in book.active.iter_rows(values_only=True)]
    assert sheet[0][:5] == ["Site", "Unit", "Resident", "Name", "Issue"]
    assert len(sheet) - 1 == len(issues)
    book = load_workbook(io.BytesIO(staff.get("/api/v1/reports/codes.xlsx",
                                              params={"sites": GA}).content))
    assert [r[1] for r in book.active.iter_rows(min_row=2, values_only=True)] == \
        ["D-401", "D-404", "D-405"]
    refused(staff.get("/api/v1/reports/codes.csv", params={"sites": "nowhere"}), 404,
            "unknown_site")
    # The codes in clear are for admins only.
    viewer = staff.post("/api/v1/staff", json={"name": "V", "roles": ["view_parkings"]})
    assert staff.get("/api/v1/reports/codes.csv", params={"sites": GA},
                     headers={"X-Api-Key": viewer.json()["key"]}).status_code == 403


def test_a_helper_pass_keeps_to_its_days_and_hours(cloud_db) -> None:
    with cloud_api(cloud_db, (GA,)) as staff, resident_app(staff) as (_who, me):
        staff.put(f"/api/v1/sites/{GA}/codes/settings", json={}).raise_for_status()
        now = datetime.now(UTC)
        body = {"kind": "helper", "name": "Sunita", "valid_from": now.isoformat(),
                "valid_until": (now + timedelta(days=90)).isoformat(),
                "days": ["mon", "tue", "wed", "thu", "fri", "sat"], "start": "07:00",
                "end": "11:00"}
        refused(me.post("/api/v1/me/passes", json=body), 422, "no_timezone")
        staff.put(f"/api/v1/sites/{GA}/timezone",
                  json={"timezone": "Asia/Kolkata"}).raise_for_status()
        got = me.post("/api/v1/me/passes", json=body)
        assert got.status_code == 201, got.text
        pid = got.json()["id"]
        assert got.json()["single_use"] is False and got.json()["schedule"] == f"pass-{pid}"
        snap = RulesSnapshot.model_validate(staff.get(f"/api/v1/sites/{GA}/rules").json())
        sched = {s.name: s for s in snap.schedules}[f"pass-{pid}"]
        assert (sched.windows[0].start, sched.windows[0].end) == ("07:00", "11:00")
        assert "sun" not in sched.windows[0].days
        assert {c.schedule for c in snap.codes} == {f"pass-{pid}"}
        refused(me.post("/api/v1/me/passes", json=body | {"start": "7am"}), 422, "bad_pass")
        refused(me.post("/api/v1/me/passes", json={**body, "days": [], "schedule": "nope"}),
                404, "unknown_schedule")
        # Cancelled: the pass's own schedule goes with it.
        me.post(f"/api/v1/me/codes/{pid}/cancel").raise_for_status()
        snap = RulesSnapshot.model_validate(staff.get(f"/api/v1/sites/{GA}/rules").json())
        assert f"pass-{pid}" not in {s.name for s in snap.schedules}


def test_issue_all_gives_every_eligible_person_their_codes_once(site) -> None:
    staff, _ = site
    person(staff, "9800000041", "Owner One", "E-501")
    person(staff, "9800000042", "Tenant Two", "E-502", role="tenant")
    firm = person(staff, "9800000043", "Firm Pvt Ltd", "E-503")
    staff.patch(f"/api/v1/residents/{firm}", json={"company": True}).raise_for_status()
    pro = person(staff, "9800000044", "External Pro", None)
    seat(staff, pro, role="president", external=True, mandate_start="2026-01-01")
    owner_id = person(staff, "9800000045", "Has One", "E-505")
    issue(staff, owner_id).raise_for_status()
    got = staff.post(f"/api/v1/sites/{GA}/codes/issue-all").json()
    assert (got["people"], got["issued"]) == (4, 7)  # never the company; one had a code
    assert staff.post(f"/api/v1/sites/{GA}/codes/issue-all").json()["issued"] == 0
    codes = staff.get(f"/api/v1/sites/{GA}/codes").json()["codes"]
    assert len(codes) == 8
    assert {c["regime"] for c in codes if c["holder"] == pro} == {"free"}
    assert len(RulesSnapshot.model_validate(
        staff.get(f"/api/v1/sites/{GA}/rules").json()).codes) == 8


def test_the_daily_job_issues_codes_to_newly_eligible_people_where_the_site_says(site) -> None:
    staff, _ = site
    person(staff, "9800000051", "Early Owner", "F-601")
    assert run_job(staff)["issued"] == 0  # the site does not ask for it
    v = staff.put(f"/api/v1/sites/{GA}/codes/settings", json={"auto_issue": True}).json()
    assert v["auto_issue"] is True
    assert run_job(staff)["issued"] == 2
    newcomer = person(staff, "9800000052", "New Tenant", "F-602", role="tenant")
    before = staff.get(f"/api/v1/sites/{GA}/rules").json()["version"]
    assert run_job(staff)["issued"] == 2
    assert {c["holder"] for c in staff.get(f"/api/v1/sites/{GA}/codes").json()["codes"]
            if c["holder"] == newcomer} == {newcomer}
    after = staff.get(f"/api/v1/sites/{GA}/rules").json()["version"]
    assert run_job(staff)["issued"] == 0
    assert staff.get(f"/api/v1/sites/{GA}/rules").json()["version"] == after > before


def test_a_resident_who_leaves_opens_no_gate_by_code(site) -> None:
    staff, _ = site
    leaving = person(staff, "9800000061", "Leaving Lal", "G-701")
    staying = person(staff, "9800000062", "Staying Sen", "G-702")
    own, other = issue(staff, leaving).json(), issue(staff, staying).json()
    key = staff.post(f"/api/v1/residents/{leaving}/keys").json()["key"]
    with httpx.Client(base_url=str(staff.base_url), headers={"X-Api-Key": key}) as me:
        now = START
        given = me.post("/api/v1/me/passes", json={
            "kind": "guest", "name": "A friend", "valid_from": now.isoformat(),
            "valid_until": (now + timedelta(days=2)).isoformat()})
        assert given.status_code == 201, given.text
    staff.delete(f"/api/v1/residents/{leaving}").raise_for_status()
    codes = {c["id"]: c["status"] for c in staff.get(f"/api/v1/sites/{GA}/codes").json()[
        "codes"]}
    assert codes[own["id"]] == codes[given.json()["id"]] == "cancelled"
    assert codes[other["id"]] == "issued"
    gates = gate_codes(staff)
    assert gates["Leaving Lal"] == gates["guest: A friend"] == "cancelled"
    assert gates["Staying Sen"] == "issued"
