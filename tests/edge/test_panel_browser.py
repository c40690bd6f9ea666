"""The guard's panel in a real browser (Debian's chromium, headless, driven by Playwright)
against the real stack: broker, cloud, simulator and edge daemon. Screenshots of every page
land in the artifacts folder (``test-artifacts/panel`` by default)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from gatepost.devstack.stack import GateSpec, Stack, StackOptions, wait_until
from shared.clock import FileClock

pytestmark = pytest.mark.stack
SITE = "green-acres"
EPC = "E2801160600002040000AB01"
PASSWORD = "booth-password-1"


@pytest.fixture(scope="module")
def stack(make_module_stack):
    # A device's wait after its free wrong passwords is 5 s here (1 s by default), longer than
    # a browser's page load on a loaded machine: "too soon" is then surely too soon.
    st = make_module_stack([GateSpec("main-in", SITE, "entry"), GateSpec("main-out", SITE, "exit")],
                           StackOptions(api={"login_wait_s": 5}))
    c = st.cloud
    c.post("/api/v1/sites", json={"id": SITE, "name": "Green Acres",
                                  "timezone": "Asia/Kolkata"}).raise_for_status()
    # The site's zone reaches the box with its schedules: the panel's times are Kolkata's.
    c.put(f"/api/v1/sites/{SITE}/schedules/always", json={"windows": [
        {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00",
         "end": "24:00"}]}).raise_for_status()
    c.post(f"/api/v1/sites/{SITE}/vehicles",
           json={"vrn": "MH12AB1234", "flat": "B-402"}).raise_for_status()
    c.post(f"/api/v1/sites/{SITE}/tags", json={"epc": EPC, "vrn": "MH12AB1234",
                                               "status": "active"}).raise_for_status()
    # Accounts come from the cloud, as rules do: only the hash reaches the box.
    for user, role in (("ravi", "guard"), ("meena", "supervisor"), ("locky", "guard")):
        r = c.post(f"/api/v1/sites/{SITE}/accounts",
                   json={"username": user, "role": role, "password": PASSWORD})
        r.raise_for_status()
    st.wait_edge_version(SITE, r.json()["rules_version"], 15)
    return st


def sign_in(page: Page, stack: Stack, user: str = "ravi", password: str = PASSWORD) -> None:
    page.goto(f"{stack.edge_url}/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_and_watch_a_tag_read_appear_on_live(stack, browser, shots):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(stack.edge_url)
    expect(page).to_have_url(f"{stack.edge_url}/login")
    page.screenshot(path=shots / "login.png")
    sign_in(page, stack, password="not the password")
    expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    sign_in(page, stack)
    expect(page.get_by_role("link", name="Live")).to_have_class("on")
    expect(page.locator("#gate-main-in .relay b")).to_have_text("ok")
    stack.world.gates["main-in"].reader.push_once(EPC)
    row = page.locator("#decisions li").first
    expect(row).to_contain_text("Resident vehicle — let in")
    expect(row).to_contain_text("MH12AB1234")
    expect(row.locator(".flat")).to_have_text("B-402")
    expect(row.locator(".code")).to_have_text("tag_valid")
    card = page.locator("#gate-main-in")
    expect(card.locator(".vrn")).to_have_text("MH12AB1234")
    expect(card.locator(".verdict")).to_contain_text("Resident vehicle — let in")
    expect(card.locator(".boom")).to_have_text("up")
    page.screenshot(path=shots / "live.png", full_page=True)
    page.close()


def test_open_with_a_reason_raises_the_boom_and_reaches_the_cloud(stack, browser, shots):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, stack)
    boom = stack.world.gates["main-out"].boom
    opens_before = boom.snapshot().opens
    card = page.locator("#gate-main-out")
    card.get_by_text("Open", exact=True).click()
    card.get_by_text("Delivery").click()
    card.get_by_role("button", name="Confirm open").click()
    expect(page.locator("#opened")).to_have_text("Opened main-out.")
    assert boom.wait_for(lambda s: s.open_limit, 5), "the simulated boom did not rise"
    assert boom.snapshot().opens == opens_before + 1
    row = page.locator("#decisions li").first
    expect(row.locator(".code")).to_have_text("guard_override")
    expect(row).to_contain_text("Opened by the guard (ravi): Delivery")

    def in_cloud() -> bool:
        events = stack.cloud.get("/api/v1/events", params={"site": SITE, "type": "decision"}
                                 ).json()["events"]
        return any(e["data"]["reason"] == "guard_override"
                   and e["data"]["guard"] == {"user": "ravi", "role": "guard",
                                              "reason": "Delivery"} for e in events)

    wait_until(in_cloud, 10, what="the guard_override event in the cloud")
    page.close()


def test_a_form_posted_without_its_csrf_token_is_refused(stack, browser):
    page = browser.new_page()
    sign_in(page, stack)
    overrides = stack.edge_health()["counters"].get("guard_overrides", 0)
    page.evaluate("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())")
    card = page.locator("#gate-main-in")
    card.get_by_text("Open", exact=True).click()
    card.get_by_text("Delivery").click()
    with page.expect_response(lambda r: "/gates/main-in/open" in r.url) as resp:
        card.get_by_role("button", name="Confirm open").click()
    assert resp.value.status == 403
    expect(page.locator("body")).to_contain_text("CSRF")
    assert stack.edge_health()["counters"].get("guard_overrides", 0) == overrides
    page.close()


def test_wrong_passwords_slow_this_device_down_without_locking_the_account(stack, browser):
    page = browser.new_page()
    for i in range(5):  # an address's free tries
        sign_in(page, stack, "locky", f"wrong password {i}")
        expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    sign_in(page, stack, "locky", PASSWORD)  # too soon, even with the right password
    expect(page.get_by_role("alert")).to_contain_text("Too many wrong passwords")
    expect(page).to_have_url(f"{stack.edge_url}/login")

    def signed_in() -> bool:  # the back-off (5 s here) passes; the account was never locked
        sign_in(page, stack, "locky", PASSWORD)
        page.wait_for_load_state()
        return page.url.rstrip("/") == stack.edge_url

    wait_until(signed_in, 20, interval=0.5, what="sign-in after the back-off")
    page.close()


def test_look_up_events_csv_and_alerts(stack, browser, shots):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, stack, "meena")
    page.get_by_role("link", name="Look up").click()
    page.get_by_label("Plate, tag or flat").fill("mh12ab1234")
    page.get_by_role("button", name="Look up").click()
    card = page.locator("article.vehicle")
    expect(card).to_contain_text(EPC)
    expect(card).to_contain_text("active")
    expect(card.locator(".flat")).to_have_text("B-402")
    page.get_by_role("button", name="Put outside").click()
    expect(page.get_by_role("status")).to_have_text("Inside/outside corrected.")
    expect(card.locator(".presence")).to_have_text("Now: outside")
    page.screenshot(path=shots / "lookup.png", full_page=True)

    # A guard open of its own, so the events it filters for are there whatever ran before.
    page.get_by_role("link", name="Live").click()
    live = page.locator("#gate-main-out")
    live.locator(".open-anyway summary").click()
    live.get_by_label("Other reason").fill("Ambulance")
    live.get_by_role("button", name="Confirm open").click()
    expect(page.locator("#opened")).to_have_text("Opened main-out.")
    page.get_by_role("link", name="Events").click()
    page.get_by_label("Reason").select_option("guard_override")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.events tbody tr")
    expect(rows.first).to_contain_text("guard_override")
    page.screenshot(path=shots / "events.png", full_page=True)
    with page.expect_download() as dl:
        page.get_by_role("link", name="Export CSV").click()
    text = Path(dl.value.path()).read_text()
    got = list(csv.DictReader(io.StringIO(text)))
    assert got and {r["reason"] for r in got} == {"guard_override"}

    page.get_by_role("link", name="Alerts").click()
    expect(page.locator("h1").first).to_have_text("Now")
    page.screenshot(path=shots / "alerts.png", full_page=True)
    page.close()


LOCKED = "E2801160600002040000AB09"
SIZES = {"tablet": (1024, 768), "phone": (390, 844)}


@pytest.fixture(scope="module")
def locked_car(stack):
    """A resident's car whose owner locked it: it may come in, not go out."""
    c = stack.cloud
    c.post(f"/api/v1/sites/{SITE}/vehicles", json={"vrn": "MH14CD5678", "flat": "A-101"}
           ).raise_for_status()
    c.post(f"/api/v1/sites/{SITE}/tags", json={"epc": LOCKED, "vrn": "MH14CD5678",
                                               "status": "active"}).raise_for_status()
    r = c.post(f"/api/v1/tags/{LOCKED}/lock", json={"until": "2099-01-01T18:00:00+05:30"})
    r.raise_for_status()
    stack.wait_edge_version(SITE, r.json()["rules_version"], 15)
    return LOCKED


def all_events(stack: Stack) -> list[dict]:
    """Every event in the edge's live ring, page by page."""
    out: list[dict] = []
    cursor = 0
    while True:
        events, last = stack.edge_events_after(cursor, wait=0)
        if not events:
            return out
        out += events
        cursor = last


def _layout(page: Page) -> dict:
    return page.evaluate("""() => {
      const lanes = [...document.querySelectorAll('.lane')].map(l => l.getBoundingClientRect());
      const small = [...document.querySelectorAll('button, summary, nav a, label.reason, input')]
        .filter(e => e.offsetParent !== null && e.type !== 'hidden')
        .map(e => [e.outerHTML.slice(0, 60),  // a radio's target is its label
                   (e.closest('label.reason') || e).getBoundingClientRect().height])
        .filter(([, h]) => h < 44);
      return {scrollW: document.documentElement.scrollWidth, innerW: window.innerWidth,
              innerH: window.innerHeight, lanesBottom: Math.max(...lanes.map(r => r.bottom)),
              small};
    }""")


@pytest.mark.parametrize("size", list(SIZES))
def test_live_at_tablet_and_phone_size_shows_each_lane_in_plain_words(stack, browser, shots,
                                                                     locked_car, size):
    w, h = SIZES[size]
    page = browser.new_page(viewport={"width": w, "height": h})
    sign_in(page, stack)
    expect(page.locator("#gate-main-out .relay b")).to_have_text("ok")
    car = stack.world.gates["main-out"]
    FileClock.advance(stack.clock_file, timedelta(minutes=5))  # a later visit of the car
    car.reader.tag_enter(locked_car)  # the locked car waits at the exit
    try:
        card = page.locator("#gate-main-out")
        expect(card.locator(".verdict")).to_have_text("Locked by owner until 1 Jan 2099, "
                                                      "18:00 — exit refused")
        expect(card.locator(".vrn")).to_have_text("MH14CD5678")
        expect(card.locator(".flat")).to_have_text("A-101")
        expect(card.locator(".open-anyway summary")).to_have_text("Open anyway")
        layout = _layout(page)
        assert layout["scrollW"] <= layout["innerW"], "the page scrolls sideways"
        assert layout["lanesBottom"] <= layout["innerH"], "a lane is below the fold"
        assert not layout["small"], f"touch targets under 44 px: {layout['small']}"
        page.screenshot(path=shots / f"live-{size}.png")
        # Open anyway: one tap, a reason, confirmed; a missing reason says so in words.
        boom = car.boom
        opens = boom.snapshot().opens
        card.locator(".open-anyway summary").click()
        card.get_by_role("button", name="Confirm open").click()
        expect(card.get_by_role("alert")).to_have_text("Choose a reason first: tap one, or "
                                                       "type one.")
        assert boom.snapshot().opens == opens
        layout = _layout(page)
        assert layout["scrollW"] <= layout["innerW"], "the open form scrolls sideways"
        page.screenshot(path=shots / f"live-open-anyway-{size}.png")
        card.get_by_text("Visitor let in").click()
        card.get_by_role("button", name="Confirm open").click()
        expect(page.locator("#opened")).to_have_text("Opened main-out.")
        assert boom.wait_for(lambda s: s.open_limit, 5)
        opened = [e for e in all_events(stack) if e["type"] == "decision"
                  and e["reason"] == "guard_override"][-1]
        assert opened["vrn"] == "MH14CD5678"  # "Open anyway" names the refused vehicle
    finally:
        car.reader.tag_leave(locked_car)
    page.close()


def test_a_reason_typed_by_hand_and_hold_open_then_close(stack, browser, shots):
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    sign_in(page, stack)
    boom = stack.world.gates["main-in"].boom
    boom.wait_for(lambda s: s.closed_limit, 10)
    card = page.locator("#gate-main-in")
    card.locator(".open-anyway summary").click()
    card.get_by_label("Other reason").fill("Wedding procession")
    card.get_by_text("Keep it open").click()
    card.get_by_role("button", name="Confirm open").click()
    expect(page.locator("#opened")).to_have_text("Opened main-in.")
    expect(page.locator("#gate-main-in .boom")).to_have_text("held", timeout=10_000)
    assert boom.snapshot().stop and boom.snapshot().open_limit
    page.reload()
    page.screenshot(path=shots / "live-held.png")
    page.locator("#gate-main-in").get_by_role("button", name="Close").click()
    assert boom.wait_for(lambda s: not s.stop and s.closed_limit, 15), "the boom stayed up"
    events = all_events(stack)
    opened = [e for e in events if e["type"] == "decision" and e["reason"] == "guard_override"]
    assert opened[-1]["guard"]["hold"] is True and opened[-1]["vrn"] is None  # names nobody
    held = [e for e in events if e["type"] == "hold"]
    assert [(e["held"], e["ok"]) for e in held][-2:] == [(True, True), (False, True)]
    page.close()


def test_a_walk_in_visitor_asked_approved_let_in_and_marked_gone(stack, browser, shots):
    c = stack.cloud
    asha = c.post("/api/v1/residents", json={
        "phone": "9876500001", "name": "Asha Rao",
        "flats": [{"site": SITE, "flat": "C-101"}]}).json()
    app = httpx.Client(base_url=str(c.base_url), timeout=10, headers={
        "X-Api-Key": c.post(f"/api/v1/residents/{asha['id']}/keys").json()["key"]})
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, stack)
    page.get_by_role("link", name="Visitors").click()
    expect(page.get_by_role("link", name="Visitors")).to_have_class("on")
    form = page.locator("#ask")
    form.get_by_label("Gate").select_option("main-in")
    form.get_by_label("Flat").fill("C-101")
    form.get_by_label("Visitor's name").fill("Ramesh")
    form.get_by_label("Kind").select_option("delivery")
    form.get_by_role("button", name="Ask the flat").click()
    expect(page.locator("#note")).to_contain_text("The flat has been asked")
    req = page.locator("#requests li.request").first
    expect(req.locator(".status")).to_have_text("pending")
    expect(req.get_by_role("button", name="Open for Ramesh")).to_be_hidden()
    # Asha sees the request in her app and approves; the panel shows it without a reload.
    pending = app.get("/api/v1/me/visitor-requests").json()["requests"]
    assert [(r["name"], r["flat"], r["gate"]) for r in pending] == [
        ("Ramesh", "C-101", "main-in")]
    app.post(f"/api/v1/me/visitor-requests/{pending[0]['id']}/approve").raise_for_status()
    expect(req.locator(".status")).to_have_text("approved")
    expect(req.locator(".by")).to_have_text("by Asha Rao")
    page.screenshot(path=shots / "visitors-approved.png")
    boom = stack.world.gates["main-in"].boom
    boom.wait_for(lambda s: s.closed_limit, 15)
    opens = boom.snapshot().opens
    req.get_by_role("button", name="Open for Ramesh").click()
    expect(page.locator("#note")).to_have_text("Gate opened for the visitor.")
    assert boom.wait_for(lambda s: s.opens == opens + 1, 5), "the boom did not rise"
    inside = page.locator("#visitors-inside li").filter(has_text="delivery: Ramesh")
    expect(inside).to_contain_text("C-101")
    # Once: the same approval does not open the gate again.
    expect(page.locator(f"li[data-request='{pending[0]['id']}'] form.open-visitor")
           ).to_be_hidden()
    page.evaluate("document.querySelector('form.open-visitor').submit()")
    expect(page.locator("#error")).to_have_attribute("data-error", "not_approved")
    assert boom.snapshot().opens == opens + 1

    def in_cloud() -> bool:
        got = c.get(f"/api/v1/sites/{SITE}/visitor-requests/{pending[0]['id']}").json()
        return got["status"] == "entered"

    wait_until(in_cloud, 10, what="the request marked entered by the gate's event")
    events = all_events(stack)
    d = [e for e in events if e["type"] == "decision" and e["reason"] == "visitor_approved"][-1]
    assert d["visitor"]["approved_by"] == asha["id"] and d["outcome"] == "open"
    assert d["guard"]["user"] == "ravi"
    page.goto(f"{stack.edge_url}/")
    expect(page.locator("#decisions li").first).to_contain_text(
        "Visitor approved by the flat — let in: Ramesh for C-101, approved by Asha Rao")
    # The guard marks him gone.
    page.goto(f"{stack.edge_url}/visitors")
    page.locator("#visitors-inside li").filter(has_text="Ramesh").get_by_role(
        "button", name="Left").click()
    expect(page.locator("#note")).to_have_text("Marked as left.")
    expect(page.locator("#visitors-inside")).not_to_contain_text("Ramesh")
    gone = [e for e in all_events(stack) if e["type"] == "presence" and e.get("visitor")]
    assert gone[-1]["inside"] is False and gone[-1]["by"] == "ravi"
    # With the cloud out of reach the guard is told to call the flat.
    stack.stop_cloud()
    try:
        form = page.locator("#ask")
        form.get_by_label("Flat").fill("C-101")
        form.get_by_label("Visitor's name").fill("Suresh")
        form.get_by_role("button", name="Ask the flat").click()
        expect(page.locator("#error")).to_contain_text("call the flat")
        page.screenshot(path=shots / "visitors-offline.png")
    finally:
        stack.start_cloud()
    app.close()
    page.close()
