"""The guard's panel over real HTTP against a started daemon: sign-in, CSRF, lockout, idle
logout, the guard's open, look-up with the supervisor's correction, events and CSV, alerts."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import httpx
import pytest

from edge.config import EdgeConfig
from edge.daemon.wiring import EdgeDaemon
from edge.faces.api import create_app
from edge.store.accounts import Accounts
from shared.clock import SystemClock
from shared.contract import (
    AccountDelete,
    AccountRule,
    AccountUpsert,
    RulesDelta,
    RulesSnapshot,
    TagRule,
    VehicleRule,
)
from shared.passwords import hash_password
from shared.vocab import EventType, TagStatus, VehicleType
from shared.webthread import WebThread

EPC = "E2801160600002040000AB01"
PASSWORD = "booth-password-1"


@pytest.fixture
def panel(tmp_path: Path):
    cfg = EdgeConfig.model_validate({
        "id": "box1", "data_dir": str(tmp_path / "data"),
        "cloud": {"mqtt_url": "mqtt://127.0.0.1:9", "http_url": "http://127.0.0.1:9"},
        "api": {"port": 0},
        "gates": [{"id": "main-in", "site": "green-acres", "direction": "entry"},
                  {"id": "main-out", "site": "green-acres", "direction": "exit"}],
    })
    d = EdgeDaemon(cfg, SystemClock())
    d.start()
    assert d.cache is not None and d.db is not None
    d.cache.apply_snapshot(RulesSnapshot(
        site="green-acres", version=3, gates=[],
        vehicles=[VehicleRule(vrn="MH12AB1234", type=VehicleType.W4, flat="B-402")],
        tags=[TagRule(epc=EPC, site="green-acres", status=TagStatus.ACTIVE, vrn="MH12AB1234",
                      locked=True)]))
    accounts = Accounts(d.db, d.clock)
    accounts.add("ravi", "guard", PASSWORD)
    accounts.add("meena", "supervisor", PASSWORD)
    app = create_app(d)
    web = WebThread(app, "127.0.0.1", 0)
    web.start()
    yield d, web.url, app
    web.stop()
    d.stop()


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "the page has no CSRF field"
    return m.group(1)


def login(url: str, user: str = "ravi", password: str = PASSWORD) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=10)
    form = c.get("/login")
    r = c.post("/login", data={"username": user, "password": password,
                               "csrf": _csrf(form.text)})
    assert r.status_code == 303 and r.headers["location"] == "/", r.text
    return c


def test_every_page_needs_a_session(panel):
    _, url, _ = panel
    c = httpx.Client(base_url=url, timeout=10)
    for path in ("/", "/lookup", "/events", "/events.csv", "/alerts", "/panel/stream"):
        r = c.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/login", path
    r = c.post("/gates/main-in/open", data={"reason": "Delivery", "csrf": "x"})
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_session_cookie_is_httponly_and_samesite_strict(panel):
    _, url, _ = panel
    c = httpx.Client(base_url=url, timeout=10)
    form = c.get("/login")
    r = c.post("/login", data={"username": "ravi", "password": PASSWORD,
                               "csrf": _csrf(form.text)})
    cookie = next(v for k, v in r.headers.multi_items()
                  if k == "set-cookie" and v.startswith("gp_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie


def test_login_form_without_its_token_is_refused(panel):
    d, url, _ = panel
    c = httpx.Client(base_url=url, timeout=10)
    c.get("/login")
    r = c.post("/login", data={"username": "ravi", "password": PASSWORD})
    assert r.status_code == 403 and "CSRF" in r.text
    assert d.counters["panel_csrf_refused"] == 1


def test_open_without_csrf_is_refused_and_nothing_opens(panel):
    d, url, _ = panel
    c = login(url)
    r = c.post("/gates/main-in/open", data={"reason": "Delivery"})
    assert r.status_code == 403
    r = c.post("/gates/main-in/open", data={"reason": "Delivery", "csrf": "forged"})
    assert r.status_code == 403
    assert d.counters["guard_overrides"] == 0


def _from(url: str, addr: str) -> httpx.Client:
    """A client whose requests come from another loopback address (another device)."""
    return httpx.Client(base_url=url, timeout=10,
                        transport=httpx.HTTPTransport(local_address=addr))


def _try(c: httpx.Client, user: str, password: str) -> httpx.Response:
    return c.post("/login", data={"username": user, "password": password,
                                  "csrf": _csrf(c.get("/login").text)})


def test_wrong_passwords_slow_their_own_device_and_never_end_a_live_session(panel):
    d, url, _ = panel
    guard = login(url)  # the guard at the booth, signed in
    attacker = _from(url, "127.0.0.2")
    answers = [_try(attacker, "ravi", f"wrong-{i}") for i in range(7)]
    assert [r.status_code for r in answers] == [200] * 5 + [429, 429]
    assert answers[-1].headers["retry-after"] == "1"
    assert "Wrong user name or password" in answers[0].text
    assert "Too many wrong passwords from this device" in answers[-1].text
    assert d.counters["panel_login_throttled"] == 2
    # Throttled tries never reach the account: the guard is neither locked nor signed out.
    assert guard.get("/").status_code == 200
    other_device = _from(url, "127.0.0.3")
    assert _try(other_device, "ravi", PASSWORD).status_code == 303
    assert d.counters.get("panel_login_locked", 0) == 0


def test_guessing_from_many_addresses_slows_the_account_not_the_live_session(panel):
    d, url, _ = panel
    guard = login(url)
    for i in range(10):  # one wrong password from each of ten devices
        r = _try(_from(url, f"127.0.1.{i + 1}"), "ravi", "not the password")
    assert r.status_code == 200 and d.counters["panel_login_bad_credentials"] == 10
    r = _try(_from(url, "127.0.2.1"), "ravi", PASSWORD)
    assert r.status_code == 429 and "Too many wrong passwords for this account" in r.text
    assert "gp_session" not in r.cookies and d.counters["panel_login_locked"] == 1
    assert guard.get("/").status_code == 200  # the booth's session goes on


def test_the_login_page_shows_known_messages_only(panel):
    _, url, _ = panel
    c = httpx.Client(base_url=url, timeout=10)
    page = c.get("/login", params={"error": "Call 555-0100 to verify your account"}).text
    assert "555-0100" not in page and 'role="alert"' not in page
    assert "Your session ended" in c.get("/login", params={"error": "expired"}).text
    assert 'role="alert"' not in c.get("/login", params={"error": "x" * 5000}).text


def test_idle_session_is_logged_out(panel):
    _, url, app = panel
    c = login(url)
    assert c.get("/").status_code == 200
    sessions = app.state.sessions
    assert sessions.idle_s == 15 * 60
    start = time.monotonic()
    sessions.now = lambda: start + 14 * 60  # 14 idle minutes: still signed in
    assert c.get("/").status_code == 200
    sessions.now = lambda: start + 14 * 60 + 15 * 60 + 1  # then 15 minutes and a second
    r = c.get("/")
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_guard_open_is_a_guard_override_event_with_identity(panel):
    d, url, _ = panel
    c = login(url)
    live = c.get("/")
    r = c.post("/gates/main-in/open", data={"reason": "Delivery", "csrf": _csrf(live.text)})
    assert r.status_code == 303 and r.headers["location"] == "/?opened=main-in"
    events = [e for e in d.ring.after(0) if e["type"] == "decision"]
    assert events[-1]["reason"] == "guard_override" and events[-1]["outcome"] == "open"
    assert events[-1]["guard"] == {"user": "ravi", "role": "guard", "reason": "Delivery"}
    assert d.outbox is not None
    sent = [e for e in d.outbox.pending(50) if e.type is EventType.DECISION]
    assert sent[-1].data["reason"] == "guard_override" and sent[-1].data["guard"]["user"] == "ravi"
    # free text wins over the list; an open without a reason is refused with a clear message
    r = c.post("/gates/main-out/open", data={"reason": "", "other": "Ambulance",
                                             "csrf": _csrf(live.text)})
    assert r.status_code == 303
    assert d.ring.after(0)[-3]["guard"]["reason"] == "Ambulance"
    opened = len(d.ring.after(0))
    r = c.post("/gates/main-out/open", data={"reason": "", "csrf": _csrf(live.text)})
    assert r.status_code == 303 and r.headers["location"] == "/?need_reason=main-out"
    assert len(d.ring.after(0)) == opened  # nothing opened
    page = c.get("/?need_reason=main-out").text
    assert "Choose why you open main-out" in page
    assert "need-reason" not in c.get("/?need_reason=<b>hi</b>").text  # only known gates
    assert c.post("/gates/nope/open", data={"reason": "x", "csrf": _csrf(live.text)}
                  ).status_code == 404


def test_a_decision_names_the_vehicles_flat_on_live_and_to_the_cloud(panel):
    d, url, _ = panel
    c = login(url)
    d.handle_epc("main-in", EPC, time.monotonic_ns())
    decision = [e for e in d.ring.after(0) if e["type"] == "decision"][-1]
    assert decision["vrn"] == "MH12AB1234" and decision["flat"] == "B-402"
    assert d.outbox is not None
    sent = [e for e in d.outbox.pending(50) if e.type is EventType.DECISION]
    assert sent[-1].data["flat"] == "B-402"
    assert 'MH12AB1234 <span class="flat">B-402</span>' in c.get("/").text


def test_no_relay_means_barrier_failed_alert(panel):
    d, url, _ = panel
    c = login(url)
    c.post("/gates/main-in/open", data={"reason": "Delivery", "csrf": _csrf(c.get("/").text)})
    page = c.get("/alerts").text
    assert "barrier_failed" in page and "no relay configured" in page
    assert "Cloud link down" in page
    assert d.counters["alert_barrier_failed"] == 1


def test_lookup_by_plate_or_tag_and_supervisor_correction(panel):
    d, url, _ = panel
    guard = login(url)
    for q in ("mh12ab1234", EPC.lower(), "AB12", "b-402"):
        page = guard.get("/lookup", params={"q": q}).text
        assert "MH12AB1234" in page and EPC in page and "locked" in page, q
        assert '<span class="flat">B-402</span>' in page, q
        assert "never seen at a gate" in page
    assert "Put inside" not in page
    r = guard.post("/presence", data={"csrf": _csrf(page), "site": "green-acres",
                                      "vrn": "MH12AB1234", "inside": "inside"})
    assert r.status_code == 403
    assert "Nothing on this box" in guard.get("/lookup", params={"q": "ZZ99"}).text
    sup = login(url, "meena")
    page = sup.get("/lookup", params={"q": "MH12AB1234"}).text
    r = sup.post("/presence", data={"csrf": _csrf(page), "site": "green-acres",
                                    "vrn": "MH12AB1234", "inside": "inside", "q": "MH12AB1234"})
    assert r.status_code == 303
    assert d.presence is not None and d.presence.is_inside("MH12AB1234") is True
    assert "Now: <b>inside</b>" in sup.get("/lookup", params={"q": "MH12AB1234"}).text
    assert d.outbox is not None
    ev = [e for e in d.outbox.pending(50) if e.type is EventType.PRESENCE]
    assert ev and ev[-1].data == {"vrn": "MH12AB1234", "inside": True, "by": "meena",
                                  "was": None}


def test_events_filter_and_csv(panel):
    d, url, _ = panel
    c = login(url)
    d.handle_epc("main-in", EPC, time.monotonic_ns())
    d.handle_epc("main-in", "E28011606000020400000000", time.monotonic_ns())
    c.post("/gates/main-out/open", data={"reason": "Delivery", "csrf": _csrf(c.get("/").text)})
    page = c.get("/events", params={"reason": "unknown_credential"}).text
    assert "E28011606000020400000000" in page and "guard_override" not in page.split("<tbody>")[1]
    rows = list(csv.DictReader(io.StringIO(c.get("/events.csv", params={"type": "decision"}
                                                 ).text)))
    assert [r["reason"] for r in rows] == ["guard_override", "unknown_credential", "tag_valid"]
    assert rows[0]["guard"] == "ravi" and rows[0]["gate"] == "main-out"
    only_tag = list(csv.DictReader(io.StringIO(c.get("/events.csv", params={
        "tag": EPC[-6:], "type": "decision"}).text)))
    assert [r["credential"] for r in only_tag] == [EPC]
    by_gate = list(csv.DictReader(io.StringIO(c.get("/events.csv", params={
        "gate": "main-out"}).text)))
    assert {r["gate"] for r in by_gate} == {"main-out"}
    future = list(csv.DictReader(io.StringIO(c.get("/events.csv", params={
        "since": "2999-01-01T00:00"}).text)))
    assert future == []
    assert c.get("/events", params={"since": "yesterday"}).status_code == 422


def test_cloud_accounts_sync_and_removal(panel):
    d, url, _ = panel
    assert d.cache is not None
    h = hash_password("cloud-password-9")
    d.cache.apply_delta(RulesDelta(site="green-acres", from_version=3, to_version=4, changes=[
        AccountUpsert(account=AccountRule(username="asha", role="guard", pw_hash=h))]))
    c = login(url, "asha", "cloud-password-9")
    assert c.get("/").status_code == 200
    d.cache.apply_delta(RulesDelta(site="green-acres", from_version=4, to_version=5, changes=[
        AccountDelete(key="asha")]))
    r = c.get("/")
    assert r.status_code == 303, "a removed account's session must end"
    # a snapshot without the account removes it too, but leaves local accounts alone
    d.cache.apply_snapshot(RulesSnapshot(site="green-acres", version=6, gates=[], vehicles=[],
                                         tags=[], accounts=[]))
    assert login(url, "ravi").get("/").status_code == 200


def test_lookup_shows_parking_subscription_status_and_debt(panel):
    from datetime import UTC, datetime, timedelta

    from shared.contract import ParkingRule, SubscriptionRule

    d, url, _ = panel
    assert d.cache is not None and d.db is not None
    now = datetime.now(UTC)
    sub = SubscriptionRule(id="S-1", parking="tower-b", space=4, status="active", unit="daily",
                           start=now - timedelta(days=10), end=now - timedelta(days=3, hours=1),
                           paid_through=now - timedelta(days=3, hours=1),
                           vrns=["MH12AB1234", "DL3CAF0001"], debt_price=100)
    d.cache.apply_snapshot(RulesSnapshot(
        site="green-acres", version=9, gates=[], vehicles=[], tags=[],
        parkings=[ParkingRule(id="tower-b", active=True)], subscriptions=[sub]))
    with d.db.write() as c:
        d.presence.set(c, "tower-b/MH12AB1234", True, now)  # type: ignore[union-attr]
    c = login(url)
    page = c.get("/lookup", params={"q": "DL3CAF"}).text  # a subscription-only vehicle
    assert "DL3CAF0001" in page and "S-1" in page
    page = c.get("/lookup", params={"q": "MH12AB1234"}).text
    row = page.split("S-1")[1].split("</tr>")[0]
    assert "tower-b · 4" in row and "overdue" in row and ">400<" in row and "inside" in row


def test_bound_beyond_loopback_the_json_api_and_metrics_need_the_token_or_a_session(tmp_path: Path):
    token = "booth-lan-token-0123456789"
    cfg = EdgeConfig.model_validate({
        "id": "box1", "data_dir": str(tmp_path / "data"),
        "cloud": {"mqtt_url": "mqtt://127.0.0.1:9", "http_url": "http://127.0.0.1:9"},
        "api": {"host": "0.0.0.0", "port": 0, "token": token},
        "gates": [{"id": "main-in", "site": "green-acres", "direction": "entry"}],
    })
    d = EdgeDaemon(cfg, SystemClock())
    d.start()
    assert d.db is not None
    Accounts(d.db, d.clock).add("ravi", "guard", PASSWORD)
    web = WebThread(create_app(d), "0.0.0.0", 0)
    web.start()
    url = web.url.replace("0.0.0.0", "127.0.0.1")
    try:
        anon = httpx.Client(base_url=url, timeout=10)
        for path in ("/api/health", "/api/events", f"/api/tags/{EPC}", "/metrics"):
            assert anon.get(path).status_code == 401, path
        assert anon.get("/api/events", headers={"Authorization": "Bearer wrong-token-000000"}
                        ).status_code == 401
        assert d.counters["api_unauthorised"] == 5
        for path in ("/api/events", "/metrics"):
            assert anon.get(path, headers={"Authorization": f"Bearer {token}"}
                            ).status_code == 200, path
        assert anon.get("/login").status_code == 200  # the panel's own pages sign in as ever
        assert login(url).get("/api/health").status_code == 200
    finally:
        web.stop()
        d.stop()


def test_lookup_shows_the_schedules_a_vehicle_keeps_to(panel):
    from datetime import date

    from shared.contract import ScheduleRule, ScheduleWindow, TagRule, VehicleRule
    from shared.vocab import TagStatus, VehicleType

    d, url, _ = panel
    assert d.cache is not None
    never = ScheduleRule(name="never-now", timezone="Asia/Kolkata", label="Helpers",
                         windows=[ScheduleWindow(days=["mon"], start="07:00", end="07:01")],
                         holidays=[date.today(), date.today().replace(day=1)])
    always = ScheduleRule(name="always", timezone="Europe/Lisbon",
                          windows=[ScheduleWindow(days=["mon", "tue", "wed", "thu", "fri",
                                                        "sat", "sun"],
                                                  start="00:00", end="24:00")])
    d.cache.apply_snapshot(RulesSnapshot(
        site="green-acres", version=9, gates=[], schedules=[never, always],
        vehicles=[VehicleRule(vrn="KA01HL0001", type=VehicleType.W2, schedule="always")],
        tags=[TagRule(epc=EPC, site="green-acres", status=TagStatus.ACTIVE, vrn="KA01HL0001",
                      schedule="never-now")]))
    page = login(url).get("/lookup", params={"q": "KA01HL0001"}).text
    assert "Keeps to <b>Helpers</b>: Mon 07:00–07:01; closed on" in page
    assert "(Asia/Kolkata)" in page and "outside its hours: entry refused" in page
    assert "Keeps to <b>always</b>: every day 00:00–24:00 (Europe/Lisbon)" in page
    assert "inside its hours" in page


@pytest.fixture
def moscow_box(tmp_path: Path):
    """A box whose site has no zone from the cloud yet: its ``api.timezone`` is Moscow's;
    its clock (a virtual one) reads 13:00:05 UTC."""
    from datetime import UTC, datetime

    from shared.clock import FileClock

    clock_file = tmp_path / "clock.json"
    now = datetime.now(UTC)
    FileClock.set_time(clock_file, now.replace(hour=13, minute=0, second=5, microsecond=0))
    cfg = EdgeConfig.model_validate({
        "id": "box1", "data_dir": str(tmp_path / "data"), "clock_file": str(clock_file),
        "cloud": {"mqtt_url": "mqtt://127.0.0.1:9", "http_url": "http://127.0.0.1:9"},
        "api": {"port": 0, "timezone": "Europe/Moscow"},
        "gates": [{"id": "main-in", "site": "green-acres", "direction": "entry"},
                  {"id": "main-out", "site": "green-acres", "direction": "exit"}],
    })
    d = EdgeDaemon(cfg, FileClock(clock_file))
    d.start()
    assert d.cache is not None and d.db is not None
    d.cache.apply_snapshot(RulesSnapshot(
        site="green-acres", version=3, gates=[],
        vehicles=[VehicleRule(vrn="MH12AB1234", type=VehicleType.W4, flat="B-402")],
        tags=[TagRule(epc=EPC, site="green-acres", status=TagStatus.ACTIVE, vrn="MH12AB1234",
                      locked=True, locked_until=now.replace(hour=15, minute=0, second=0,
                                                            microsecond=0))]))
    Accounts(d.db, d.clock).add("ravi", "guard", PASSWORD)
    web = WebThread(create_app(d), "127.0.0.1", 0)
    web.start()
    yield d, web.url
    web.stop()
    d.stop()


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_times_are_on_the_boxs_zone_where_the_cloud_sent_none(moscow_box):
    d, url = moscow_box
    c = login(url)
    d.handle_epc("main-out", EPC, time.monotonic_ns())  # refused: locked until 15:00 UTC
    c.post("/gates/main-in/open", data={"reason": "Delivery", "csrf": _csrf(c.get("/").text)})
    live = _text(c.get("/").text)  # 13:00 UTC is 16:00 in Moscow
    assert "today, 16:00:0" in live and "Locked by owner until today, 18:00" in live
    assert "13:00" not in live and not re.search(r"\d{4}-\d\d-\d\dT", live)
    alerts = _text(c.get("/alerts").text)
    assert re.search(r"today, 16:00:0\d main-in barrier_failed", alerts), alerts
    events = _text(c.get("/events").text)
    assert "Times on the site's clock (Europe/Moscow)" in events
    assert "Locked by owner until today, 18:00 — exit refused" in events
    assert "today, 16:00:0" in events and not re.search(r"\d{4}-\d\d-\d\dT", events)
    lookup = _text(c.get("/lookup", params={"q": "MH12AB1234"}).text)
    assert "locked until today, 18:00" in lookup and "today, 16:00" in lookup
    rows = list(csv.DictReader(io.StringIO(c.get("/events.csv", params={"type": "decision"}
                                                 ).text)))
    assert {r["time_zone"] for r in rows} == {"Europe/Moscow"}
    assert all(", 16:00:0" in r["local_time"] and "T13:00:0" in r["at"] for r in rows)


@pytest.mark.parametrize(("decided", "seen", "there"), [
    (0.0, 0.0, True),  # just decided
    (1.4, 1.4, True),  # within the pass window
    (30.0, 0.5, True),  # long ago, but its tag is still read: the car waits
    (30.0, 4.9, True),  # read within the de-dup hold
    (30.0, 5.1, False),  # not read for the hold, outside the window: gone
    (5.1, 5.1, False),  # a guard's open (never read again) past the window and the hold
])
def test_the_vehicle_in_front_stays_while_it_is_read(decided, seen, there):
    from datetime import UTC, datetime, timedelta

    from edge.lanes.view import InFront

    now = datetime(2025, 3, 12, 13, 0, tzinfo=UTC)
    front = InFront({}, "tag:X", now - timedelta(seconds=decided),
                    now - timedelta(seconds=decided))
    front = front.seen("tag:X", now - timedelta(seconds=seen)).seen("tag:Y", now)
    assert front.there(now, pass_window_s=1.5, hold_s=5.0) is there


def test_a_zone_the_box_does_not_know_falls_back_and_every_page_still_serves(moscow_box,
                                                                              caplog):
    """A site zone this box's tzdata lacks (cached from the cloud before an upgrade dropped
    it) shows the site's times on ``api.timezone``, logged once; sign-in and Live still
    serve."""
    from shared.contract import ScheduleRule, ScheduleWindow

    d, url = moscow_box
    assert d.cache is not None
    d.cache.apply_snapshot(RulesSnapshot(
        site="green-acres", version=4, gates=[], vehicles=[], tags=[], schedules=[
            ScheduleRule(name="always", timezone="America/Sao_Paulo",
                         windows=[ScheduleWindow(days=["mon"], start="00:00", end="24:00")])]))
    # The cached zone is one this box's tzdata does not know (the box refuses such a zone
    # when it arrives, so the row is changed under it).
    d.db.conn.execute("UPDATE schedules SET rule = json_set(rule, '$.timezone', "
                      "'Mars/Olympus')")
    assert d.site_clocks().zones == {"green-acres": "Mars/Olympus"}
    anon = httpx.Client(base_url=url, timeout=10)
    assert anon.get("/login").status_code == 200
    c = login(url)
    c.post("/gates/main-in/open", data={"reason": "Delivery", "csrf": _csrf(c.get("/").text)})
    r = c.get("/")
    assert r.status_code == 200
    assert "today, 16:00:0" in _text(r.text)  # 13:00 UTC on the fallback, Moscow's clock
    events = c.get("/events")
    assert events.status_code == 200
    assert "Times on the site's clock (Europe/Moscow)" in _text(events.text)
    unknown = [m for m in caplog.messages if "Mars/Olympus" in m]
    assert len(unknown) == 1, unknown


def test_the_live_stream_reads_the_clocks_off_the_event_loop(panel):
    """The clocks (and the health) come from the store: the stream builds them in a worker
    thread, so one slow read never stalls every other request of the panel."""
    import asyncio
    import json

    d, url, _ = panel
    on_loop: list[bool] = []
    asked = d.site_clocks

    def site_clocks():
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return asked()

    d.site_clocks = site_clocks
    c = login(url)
    c.post("/gates/main-in/open", data={"reason": "Delivery", "csrf": _csrf(c.get("/").text)})
    seen: set[str] = set()
    with c.stream("GET", "/panel/stream") as r:
        event = ""
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                json.loads(line[6:])
                seen.add(event)
                if {"decision", "health"} <= seen:
                    break
    assert {"decision", "health"} <= seen
    assert on_loop and not any(on_loop), on_loop


def test_the_panels_clocks_ask_the_daemon_one_read_model():
    """``Times`` sees only ``daemon.site_clocks()``: no config, store or clock of the daemon."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from edge.faces.panel.times import Times, zone_name
    from edge.faces.port import SiteClocks

    now = datetime(2025, 3, 12, 13, 0, tzinfo=UTC)
    clocks = SiteClocks("en_IN", "Europe/Moscow",
                        {"a": "Asia/Kolkata", "b": "Venus/Maxwell", "c": None},
                        {"a-in": "a", "b-in": "b"}, now)
    t = Times.of(SimpleNamespace(site_clocks=lambda: clocks))
    assert {s: zone_name(z) for s, z in t.zones.items()} == {
        "a": "Asia/Kolkata", "b": "Europe/Moscow", "c": "Europe/Moscow"}
    assert t.when(now, "a-in") == "today, 18:30" and t.when(now, "b-in") == "today, 16:00"
    assert t.now == now and zone_name(t.zone("unknown-gate")) == "Europe/Moscow"
