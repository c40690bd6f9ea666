"""Paid parking in the cloud over real HTTP, on a virtual clock: every rule of the seed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from shared.contract import Event
from shared.vocab import EventType
from tests.factories import CAR, T0, P, activate, parking_api, staff_sub


@pytest.fixture
def api(tmp_path, cloud_db):
    with parking_api(tmp_path, cloud_db) as a:
        yield a


def near(iso: str, want: datetime) -> bool:
    """The virtual clock runs on at real speed between steps: a few seconds of slack."""
    return abs(datetime.fromisoformat(iso) - want) < timedelta(seconds=30)


def test_parking_is_created_inactive_and_activates_only_with_entry_and_exit(api):
    assert api.ok("GET", P)["active"] is False
    api.refused("POST", f"{P}/activate", 409, "barriers_incomplete")
    api.ok("PUT", "/api/v1/sites/green-acres/gates/p-in/parking", json={"parking": "tower-b"})
    api.refused("POST", f"{P}/activate", 409, "barriers_incomplete")
    activate(api)
    p = api.ok("GET", P)
    assert p["active"] is True and {b["id"] for b in p["barriers"]} == {"p-in", "p-out"}
    assert p["rules_text"] == "Park nose-in."
    # a barrier's id in another system is kept when the gate is updated without one
    api.ok("POST", "/api/v1/sites/green-acres/gates", 201,
           json={"id": "p-in", "direction": "entry", "external_id": "ZK-0042"})
    api.ok("POST", "/api/v1/sites/green-acres/gates", 201,
           json={"id": "p-in", "direction": "entry", "name": "Ramp in"})
    barriers = {b["id"]: b for b in api.ok("GET", P)["barriers"]}
    assert barriers["p-in"]["external_id"] == "ZK-0042" and barriers["p-in"]["name"] == "Ramp in"
    snap = api.ok("GET", "/api/v1/sites/green-acres/rules")
    assert snap["parkings"] == [{"id": "tower-b", "active": True}]
    assert {g["id"]: g["parking"] for g in snap["gates"]} == {"p-in": "tower-b",
                                                              "p-out": "tower-b"}


def test_spaces_ranges_labels_and_status(api):
    spaces = api.ok("GET", f"{P}/spaces")["spaces"]
    assert [s["number"] for s in spaces] == [4, 5, 6, 7]
    assert {s["status"] for s in spaces} == {"available"}
    api.refused("POST", f"{P}/spaces", 409, "space_exists", json={"numbers": "7..9",
                                                                  "size": "small"})
    r = api.c.post(f"{P}/spaces", json={"numbers": 9, "size": "small",
                                        "labels": list("abcdef")})
    assert r.status_code == 422
    assert api.c.patch(f"{P}/spaces/4", json={"number": 40}).status_code == 422
    api.ok("PATCH", f"{P}/spaces/5", json={"rentable": False})
    api.ok("PATCH", f"{P}/spaces/6", json={"available_until": "2027-06-01T00:00:00+05:30"})
    status = {s["number"]: s["status"] for s in api.ok("GET", f"{P}/spaces")["spaces"]}
    assert status == {4: "available", 5: "unavailable", 6: "available_until", 7: "available"}


def test_overlapping_bands_and_zero_prices_are_refused(api):
    api.refused("POST", f"{P}/tariffs", 409, "bad_tariff", json={
        "size": "small", "unit": "daily", "lower": 10, "upper": 20, "price": 90})
    api.refused("POST", f"{P}/tariffs", 422, "bad_tariff", json={
        "size": "medium", "unit": "daily", "lower": 1, "upper": 5, "price": 0})
    # the same bounds for another size or unit are fine
    api.ok("POST", f"{P}/tariffs", 201, json={"size": "large", "unit": "daily", "lower": 1,
                                               "upper": 15, "price": 150})


def test_staff_subscription_starts_now_with_days_from_the_amount(api):
    api.refused("POST", f"{P}/subscriptions", 409, "parking_inactive", json={
        "space": 4, "owner": "B-402", "vehicles": [CAR], "amount": 700})
    activate(api)
    s = staff_sub(api, amount=1500)
    assert s["status"] == "active" and s["units"] == 18  # 16–90 days at 80: 18 days
    assert near(s["start"], T0) and near(s["end"], T0 + timedelta(days=18))
    assert datetime.fromisoformat(s["end"]) - datetime.fromisoformat(s["start"]) == \
        timedelta(days=18)
    assert s["payments"] == [{"kind": "rent", "amount": 1500, "at": s["start"],
                              "reference": None, "documents": []}]
    spaces = {x["number"]: x for x in api.ok("GET", f"{P}/spaces")["spaces"]}
    assert spaces[4]["status"] == "unavailable" and spaces[4]["tenant"]["id"] == s["id"]
    api.refused("POST", f"{P}/subscriptions", 409, "space_taken", json={
        "space": 4, "owner": "C-101", "vehicles": [{"vrn": "DL3CAF0001"}], "amount": 700})
    free = staff_sub(api, space=5, amount=None, units=30, free=True)
    assert free["amount"] == 0 and free["units"] == 30
    snap = api.ok("GET", "/api/v1/sites/green-acres/rules")
    assert {x["id"] for x in snap["subscriptions"]} == {s["id"], free["id"]}
    # "available until" may not cut into a subscription
    api.refused("PATCH", f"{P}/spaces/4", 409, "cuts_into_subscription",
                json={"available_until": (T0 + timedelta(days=10)).isoformat()})
    assert api.ok("GET", f"{P}/subscriptions")["subscriptions"][0]["id"] in {s["id"],
                                                                            free["id"]}


def test_daily_subscription_ends_inside_owes_four_days_pays_leaves_archived(api):
    """The seed's example: overdue 3 d 1 h → 4 days at the dearest band; paid; a day to
    leave; it leaves; archived."""
    activate(api)
    s = staff_sub(api, amount=700)  # 7 days
    api.ok("PUT", f"{P}/presence/MH12AB1234", json={"inside": True})
    api.advance(days=7, hours=1)
    got = api.sub(s["id"])
    assert got["status"] == "overdue" and got["debt"] == 100
    api.refused("POST", f"/api/v1/subscriptions/{s['id']}/deactivate", 409, "cannot_deactivate",
                json={})
    api.advance(days=3)  # overdue 3 d 1 h
    assert api.sub(s["id"])["debt"] == 4 * 100
    paid = api.ok("POST", f"/api/v1/subscriptions/{s['id']}/pay-debt", json={"reference": "r1"})
    assert paid["status"] == "repaid" and paid["debt"] == 0
    assert paid["payments"][-1]["amount"] == 400
    assert datetime.fromisoformat(paid["exit_until"]) == \
        datetime.fromisoformat(s["end"]) + timedelta(days=5)  # 4 days paid + 1 to leave
    api.advance(hours=2)
    api.ok("PUT", f"{P}/presence/MH12AB1234", json={"inside": False})
    assert api.sub(s["id"])["status"] == "archive"


def test_repaid_but_stays_owes_again(api):
    activate(api)
    s = staff_sub(api, amount=100)  # 1 day
    api.ok("PUT", f"{P}/presence/MH12AB1234", json={"inside": True})
    api.advance(days=1, minutes=1)  # 1 minute late: a day owed, paid up to end + 1 d
    paid = api.ok("POST", f"/api/v1/subscriptions/{s['id']}/pay-debt", json={})
    assert paid["payments"][-1]["amount"] == 100
    api.advance(days=2)  # the exit window closed a day after the paid time; still inside
    got = api.sub(s["id"])
    # the debt runs on from the paid time (end + 1 d), not from the window's end: 1 d 1 min
    assert got["status"] == "overdue" and got["debt"] == 200


def test_ends_outside_is_archived_and_frees_the_space(api):
    activate(api)
    s = staff_sub(api, amount=100)
    api.advance(days=1)
    assert api.sub(s["id"])["status"] == "archive"
    assert api.ok("GET", f"{P}/spaces")["spaces"][0]["status"] == "available"


def test_extend_creates_a_future_subscription_that_takes_over(api):
    activate(api)
    s = staff_sub(api, amount=300)  # 3 days
    nxt = api.ok("POST", f"/api/v1/subscriptions/{s['id']}/extend", 201, json={"amount": 200})
    assert nxt["status"] == "future" and nxt["prev"] == s["id"]
    assert nxt["start"] == s["end"] and nxt["units"] == 2
    api.ok("PUT", f"{P}/presence/MH12AB1234", json={"inside": True})
    api.advance(days=3, minutes=1)
    assert api.sub(nxt["id"])["status"] == "active"
    assert api.sub(s["id"])["status"] == "archive"  # inside, but the extension took over


def test_deactivate_archives_later_ones_never_earlier_and_refunds(api):
    activate(api)
    s = staff_sub(api, amount=700)
    nxt = api.ok("POST", f"/api/v1/subscriptions/{s['id']}/extend", 201, json={"amount": 300})
    # paid outside the app: no refund, the system cannot know where to send money
    msg = api.refused("POST", f"/api/v1/subscriptions/{nxt['id']}/deactivate", 409,
                      "refund_not_allowed", json={"refund": "full"})
    assert "outside the app" in msg
    out = api.ok("POST", f"/api/v1/subscriptions/{nxt['id']}/deactivate", json={})
    assert out["status"] == "archive" and out["refund"] == 0
    assert api.sub(s["id"])["status"] == "active"  # the earlier one is untouched
    api.ok("PUT", f"{P}/presence/MH12AB1234", json={"inside": True})
    api.refused("POST", f"/api/v1/subscriptions/{s['id']}/deactivate", 409, "vehicle_inside",
                json={})


def test_after_its_extension_is_deactivated_a_subscription_can_be_extended_again(api):
    activate(api)
    s = staff_sub(api, amount=300)
    nxt = api.ok("POST", f"/api/v1/subscriptions/{s['id']}/extend", 201, json={"amount": 200})
    api.ok("POST", f"/api/v1/subscriptions/{nxt['id']}/deactivate", json={})
    again = api.ok("POST", f"/api/v1/subscriptions/{s['id']}/extend", 201,
                   json={"amount": 100})
    assert again["prev"] == s["id"] and again["start"] == s["end"] and again["units"] == 1
    # the running one still holds the space: a new subscription for it is still refused
    api.refused("POST", f"{P}/subscriptions", 409, "space_taken", json={
        "space": s["space"], "owner": "B-9", "vehicles": [{"vrn": "MH12CD5678"}],
        "amount": 100})


def test_change_space_only_to_a_free_one_and_history(api):
    activate(api)
    a = staff_sub(api, amount=300, space=4)
    api.ok("POST", f"{P}/subscriptions", 201, json={
        "space": 5, "owner": "C-101", "vehicles": [{"vrn": "DL3CAF0001"}], "amount": 300})
    api.refused("POST", f"/api/v1/subscriptions/{a['id']}/space", 409, "space_taken",
                json={"space": 5})
    moved = api.ok("POST", f"/api/v1/subscriptions/{a['id']}/space", json={"space": 6})
    assert moved["space"] == 6
    api.ok("POST", f"/api/v1/subscriptions/{a['id']}/vehicles", 201, json={"vrn": "KA01AB0001"})
    api.ok("POST", f"/api/v1/subscriptions/{a['id']}/owner", json={"owner": "Flat B-403"})
    api.ok("DELETE", f"/api/v1/subscriptions/{a['id']}/vehicles/KA01AB0001")
    api.refused("DELETE", f"/api/v1/subscriptions/{a['id']}/vehicles/MH12AB1234", 409,
                "last_vehicle")
    what = [h["what"] for h in api.sub(a["id"])["history"]]
    assert what == ["created", "space_changed", "vehicle_added", "owner_changed",
                    "vehicle_removed"]


def test_payment_documents_attach_to_active_and_future_subscriptions_only(api):
    activate(api)
    paid = staff_sub(api, amount=700, documents=["receipt-0091.pdf"])
    assert paid["payments"][0]["documents"] == ["receipt-0091.pdf"]
    got = api.ok("POST", f"/api/v1/subscriptions/{paid['id']}/documents",
                 json={"documents": ["bank-slip.jpg"]})
    assert got["payments"][0]["documents"] == ["receipt-0091.pdf", "bank-slip.jpg"]
    assert got["history"][-1]["what"] == "documents_attached"
    free = staff_sub(api, space=5, amount=None, units=3, free=True,
                     documents=["board-resolution.pdf"])
    assert free["payments"] == [{"kind": "rent", "amount": 0, "at": free["start"],
                                 "reference": None, "documents": ["board-resolution.pdf"]}]
    nxt = api.ok("POST", f"/api/v1/subscriptions/{paid['id']}/extend", 201,
                 json={"amount": 700})
    assert nxt["status"] == "future"
    got = api.ok("POST", f"/api/v1/subscriptions/{nxt['id']}/documents",
                 json={"documents": ["renewal.pdf"]})
    assert got["payments"][-1]["documents"] == ["renewal.pdf"]
    empty = api.c.post(f"/api/v1/subscriptions/{paid['id']}/documents", json={"documents": []})
    assert empty.status_code == 422 and "documents" in empty.text
    api.ok("POST", f"/api/v1/subscriptions/{free['id']}/deactivate", json={})
    api.refused("POST", f"/api/v1/subscriptions/{free['id']}/documents", 409, "not_editable",
                json={"documents": ["late.pdf"]})


def test_parking_deletion_waits_for_archived_subscriptions(api):
    activate(api)
    s = staff_sub(api, amount=100)
    api.refused("DELETE", P, 409, "subscriptions_not_archived")
    api.advance(days=1)
    assert api.sub(s["id"])["status"] == "archive"
    api.ok("DELETE", P)
    api.refused("GET", P, 404, "unknown_parking")


def test_an_entry_reported_late_reopens_a_blindly_archived_subscription(api):
    """The gate was offline: the job archived the subscription as "ended while outside";
    then the gate's entry event arrives, from before the end. It is overdue after all."""
    activate(api)
    s = staff_sub(api, amount=100)
    entered = datetime.fromisoformat(s["start"]) + timedelta(hours=2)
    api.advance(days=1, hours=1)
    assert api.sub(s["id"])["status"] == "archive"
    api.app.state.services.jobs.on_event(Event(
        id="p-in:1", type=EventType.PASS, site="green-acres", edge="e1", gate="p-in", seq=1,
        at=entered, data={"vrn": "MH12AB1234", "direction": "entry", "parking": "tower-b"}))
    api.ok("POST", "/api/v1/jobs/transitions")
    got = api.sub(s["id"])
    assert got["status"] == "overdue" and got["debt"] == 100
    assert [h["what"] for h in got["history"]][-2:] == ["reopened", "status"]


def test_reports_are_real_excel_files(api, tmp_path):
    from openpyxl import load_workbook

    activate(api)
    a = staff_sub(api, amount=700, space=4)
    api.ok("PUT", f"{P}/presence/MH12AB1234", json={"inside": True})
    api.advance(days=2)
    b = api.ok("POST", f"{P}/subscriptions", 201, json={
        "space": 5, "owner": "C-101", "vehicles": [{"vrn": "DL3CAF0001"}], "amount": 300})
    api.ok("PUT", f"{P}/presence/MH12AB1234", json={"inside": False})
    r = api.c.get("/api/v1/reports/subscriptions.xlsx", params={"parkings": "tower-b"})
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "application/vnd.openxmlformats")
    (tmp_path / "s.xlsx").write_bytes(r.content)
    rows = list(load_workbook(tmp_path / "s.xlsx").active.iter_rows(values_only=True))
    # Times on the site's clock (an Indian site with no zone set: India's), named; the
    # amounts' currency named.
    assert rows[0] == ("Status", "Number", "Owner", "Parking", "Space", "Start (Asia/Kolkata)",
                       "End (Asia/Kolkata)", "Amount paid (INR)", "Tariff type",
                       "Created (Asia/Kolkata)")
    assert [(x[1], x[2], x[4], x[7], x[8]) for x in rows[1:]] == [
        (a["id"], "Flat B-402", 4, 700, "daily"), (b["id"], "C-101", 5, 300, "daily")]
    assert rows[1][6] - rows[1][5] == timedelta(days=7)
    # by creation date: only the second one was created after the first day
    later = (T0 + timedelta(days=1)).isoformat()
    r = api.c.get("/api/v1/reports/subscriptions.xlsx", params={
        "parkings": "tower-b", "created_from": later})
    (tmp_path / "s2.xlsx").write_bytes(r.content)
    rows = list(load_workbook(tmp_path / "s2.xlsx").active.iter_rows(values_only=True))
    assert [x[1] for x in rows[1:]] == [b["id"]]
    assert api.c.get("/api/v1/reports/subscriptions.xlsx",
                     params={"parkings": "nope"}).status_code == 404
    r = api.c.get("/api/v1/reports/occupancy.xlsx", params={"parking": "tower-b"})
    (tmp_path / "o.xlsx").write_bytes(r.content)
    rows = list(load_workbook(tmp_path / "o.xlsx").active.iter_rows(values_only=True))
    assert rows[0] == ("Time (Asia/Kolkata)", "Parking", "Space", "Vehicle", "Subscription",
                       "Movement", "Source")
    assert [(x[2], x[3], x[4], x[5], x[6]) for x in rows[1:]] == [
        (4, "MH12AB1234", a["id"], "in", "staff"), (4, "MH12AB1234", a["id"], "out", "staff")]


def test_bulk_import_is_all_or_nothing_and_reaches_the_snapshot(api):
    activate(api)
    staff_sub(api, amount=100, space=7)
    items = [{"space": n, "owner": f"flat-{n}", "vehicles": [f"KA01AB{n:04d}"], "units": 30}
             for n in (4, 5, 6)]
    api.refused("POST", f"{P}/subscriptions/import", 409, "space_taken",
                json={"subscriptions": [*items, {**items[0], "space": 7}]})
    assert len(api.ok("GET", "/api/v1/sites/green-acres/rules")["subscriptions"]) == 1
    got = api.ok("POST", f"{P}/subscriptions/import", 201, json={"subscriptions": items})
    assert got["imported"] == 3
    snap = api.ok("GET", "/api/v1/sites/green-acres/rules")["subscriptions"]
    mine = {s["vrns"][0]: s for s in snap}
    assert set(mine) == {"MH12AB1234", "KA01AB0004", "KA01AB0005", "KA01AB0006"}
    assert mine["KA01AB0005"]["debt_price"] == 100 and mine["KA01AB0005"]["status"] == "active"


def test_cameras_watch_spaces_and_only_paid_camera_access_sees_them(api):
    activate(api)
    cam = api.ok("POST", f"{P}/cameras", 201, json={
        "name": "Row A", "url": "rtsp://10.0.0.7/a", "spaces": [4, 5], "sort": 2})
    api.ok("POST", f"{P}/cameras", 201, json={"name": "Ramp", "url": "rtsp://10.0.0.7/r",
                                               "parking_camera": True, "sort": 1})
    api.refused("POST", f"{P}/cameras", 422, "unknown_space",
                json={"name": "X", "url": "rtsp://x", "spaces": [99]})
    assert [c["name"] for c in api.ok("GET", f"{P}/cameras")["cameras"]] == ["Ramp", "Row A"]
    plain = staff_sub(api, amount=100, space=4)
    api.refused("GET", f"/api/v1/subscriptions/{plain['id']}/cameras", 403, "camera_not_paid")
    paid = staff_sub(api, amount=240, space=5, camera=True)  # 2 days of space + camera
    assert paid["units"] == 2 and paid["camera"] is True
    seen = api.ok("GET", f"/api/v1/subscriptions/{paid['id']}/cameras")["cameras"]
    assert [c["id"] for c in seen] == [cam["id"]]


def test_a_report_keeps_formula_like_text_as_text(api, tmp_path):
    from openpyxl import load_workbook

    activate(api)
    staff_sub(api, amount=300, owner="=HYPERLINK(\"http://x\",\"pay\")")
    r = api.c.get("/api/v1/reports/subscriptions.xlsx", params={"parkings": "tower-b"})
    (tmp_path / "f.xlsx").write_bytes(r.content)
    cell = load_workbook(tmp_path / "f.xlsx").active["C2"]
    assert cell.data_type == "s" and cell.value == "=HYPERLINK(\"http://x\",\"pay\")"


def test_a_pass_told_twice_is_one_line_of_the_occupancy_log(api):
    """A reaction to a stored pass may run again (its process died between doing it and
    clearing it from the queue): the same entry, at the same time, is logged once."""
    activate(api)
    staff_sub(api)
    subs = api.app.state.services.presence
    for _ in range(2):
        subs.set_presence("tower-b", CAR["vrn"], True, by="pass", at=T0, publish=False)
    subs.set_presence("tower-b", CAR["vrn"], False, by="pass", at=T0 + timedelta(hours=1),
                      publish=False)
    rows = api.app.state.services.db.conn.execute(
        "SELECT inside FROM occupancy_log ORDER BY at").fetchall()
    assert [r[0] for r in rows] == [1, 0]
