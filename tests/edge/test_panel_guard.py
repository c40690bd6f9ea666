"""The guard at a busy gate (issue 25), on the real stack (broker, cloud, simulator, edge
daemon) over HTTP and in a real browser: a refused car stays on its card for as long as its
tag is read, every time a guard reads is on the site's clock in words, and on a phone or a
tablet the navigation is one row, the four lanes fit and no table cell is clipped.

Two sites on one box, in two zones (Asia/Kolkata and America/Sao_Paulo); a short pass window
(1.5 s) so that a car waiting "longer than the pass window" takes seconds. Screenshots land in
the artifacts folder (``test-artifacts/panel/guard-*.png``)."""

from __future__ import annotations

import csv
import io
import json
import re
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from gatepost.devstack.stack import GateSpec, Stack, StackOptions, wait_until
from shared.clock import FileClock

pytestmark = pytest.mark.stack
SITE, OTHER = "green-acres", "lagoa"
EPC = "E2801160600002040000AB01"  # a resident's car at green-acres (Asia/Kolkata)
EPC_OTHER = "E2801160600002040000CC01"  # a resident's car at lagoa (America/Sao_Paulo)
LOCKED = "E2801160600002040000AB09"  # locked by its owner: may come in, not go out
PASSWORD = "booth-password-1"
PASS_WINDOW_S = 1.5
LOCKED_WORDS = "Locked by owner until 1 Jan 2099, 18:00 — exit refused"
ISO = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d")
SIZES = {"phone": (390, 844), "tablet": (820, 1180)}


@pytest.fixture(scope="module")
def stack(make_module_stack):
    st = make_module_stack([
        GateSpec("main-in", SITE, "entry"), GateSpec("main-out", SITE, "exit"),
        GateSpec("lagoa-in", OTHER, "entry"), GateSpec("lagoa-out", OTHER, "exit")],
        StackOptions(policy={"pass_window_s": PASS_WINDOW_S}))
    c = st.cloud
    for site, zone, vrn, epc, flat in (
            (SITE, "Asia/Kolkata", "MH12AB1234", EPC, "B-402"),
            (OTHER, "America/Sao_Paulo", "KA01HL0001", EPC_OTHER, "T-12")):
        c.post("/api/v1/sites", json={"id": site, "timezone": zone}).raise_for_status()
        # The site's zone reaches the box with the site's schedules.
        c.put(f"/api/v1/sites/{site}/schedules/always", json={"windows": [
            {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
             "start": "00:00", "end": "24:00"}]}).raise_for_status()
        c.post(f"/api/v1/sites/{site}/vehicles", json={"vrn": vrn, "flat": flat}
               ).raise_for_status()
        r = c.post(f"/api/v1/sites/{site}/tags", json={"epc": epc, "vrn": vrn,
                                                       "status": "active"})
        r.raise_for_status()
        st.wait_edge_version(site, r.json()["rules_version"], 15)
    c.post(f"/api/v1/sites/{SITE}/vehicles", json={"vrn": "MH14CD5678", "flat": "A-101"}
           ).raise_for_status()
    c.post(f"/api/v1/sites/{SITE}/tags", json={"epc": LOCKED, "vrn": "MH14CD5678",
                                               "status": "active"}).raise_for_status()
    c.post(f"/api/v1/tags/{LOCKED}/lock", json={"until": "2099-01-01T18:00:00+05:30"}
           ).raise_for_status()
    r = c.post(f"/api/v1/sites/{SITE}/accounts",
               json={"username": "ravi", "role": "guard", "password": PASSWORD})
    r.raise_for_status()
    st.wait_edge_version(SITE, r.json()["rules_version"], 15)
    return st


@pytest.fixture
def guard(stack: Stack) -> Iterator[httpx.Client]:
    """The guard, signed in over HTTP."""
    c = httpx.Client(base_url=stack.edge_url, timeout=30)
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
    assert token
    r = c.post("/login", data={"username": "ravi", "password": PASSWORD,
                               "csrf": token.group(1)})
    assert r.status_code == 303, r.text
    yield c
    c.close()


def lane_card(html: str, gate: str) -> str:
    """The text of one lane's card on the Live page."""
    m = re.search(rf'<article class="lane[^"]*" id="gate-{gate}".*?</article>', html, re.S)
    assert m, f"no card for {gate}"
    return text(m.group(0))


def text(html: str) -> str:
    """What a person reads of some HTML: its text, never its attributes."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def rows(html: str, tag: str = "tr") -> list[str]:
    """The text of each table row (or list item) of a page."""
    return [text(p) for p in re.split(rf"<{tag}[ >]", html)[1:]]


def health_events(r: httpx.Response) -> Iterator[dict]:
    """The Live page's health updates, as its server-sent events bring them."""
    event = ""
    for line in r.iter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "health":
            yield json.loads(line[6:])


def decisions(stack: Stack, gate: str, reason: str) -> list[dict]:
    """The box's decisions of *reason* at *gate* so far."""
    events, _ = stack.edge_events_after(0, wait=0)
    return [e for e in events if e["type"] == "decision" and e["gate"] == gate
            and e["reason"] == reason]


def edge_now(stack: Stack) -> datetime:
    return FileClock(stack.clock_file).now()


def reader_outage(stack: Stack, gate: str) -> None:
    """Pull the reader's cable until the box records it down (an alert), then plug it back."""
    reader = stack.world.gates[gate].reader
    reader.line_down()
    try:
        wait_until(lambda: any(e["type"] == "fault" and e["gate"] == gate
                               and e["state"] == "down"
                               for e in stack.edge_events_after(0, wait=0)[0]), 20,
                   what=f"{gate}'s reader down")

        def port_free() -> bool:  # the simulator's listener closes within its accept timeout
            try:
                socket.create_connection((reader.host, reader.port), timeout=1).close()
            except ConnectionRefusedError:
                return True
            return False

        wait_until(port_free, 5, what=f"{gate}'s reader port closed")
    finally:
        reader.line_up()


def test_a_refused_car_stays_on_its_card_while_its_tag_is_still_read(stack, guard):
    reader = stack.world.gates["main-out"].reader
    reader.tag_enter(LOCKED)  # the locked car waits at the exit; its tag is read 20 times a second
    try:
        wait_until(lambda: "Locked by owner" in lane_card(guard.get("/").text, "main-out"), 15,
                   what="the locked car on its card")
        decided = datetime.fromisoformat(decisions(stack, "main-out", "tag_locked")[-1]["at"])
        duplicates = stack.edge_health()["counters"].get("decision_duplicate_read", 0)
        deadline = time.monotonic() + 60
        seen = 0
        # What the page is told every second, for four pass windows and more: still the car.
        with guard.stream("GET", "/panel/stream") as r:
            for h in health_events(r):
                current = next(g for g in h["gates"] if g["id"] == "main-out")["current"]
                assert current is not None, "the card says Lane clear while the car waits"
                assert (current["vrn"], current["outcome"]) == ("MH14CD5678", "deny")
                assert current["plain"].startswith("Locked by owner")
                seen += 1
                waited = datetime.fromisoformat(current["seen_at"]) - decided
                if waited > timedelta(seconds=4 * PASS_WINDOW_S) and seen >= 3:
                    break
                assert time.monotonic() < deadline, "the tag stopped being read"
        assert stack.edge_health()["counters"]["decision_duplicate_read"] > duplicates + 20
        card = lane_card(guard.get("/").text, "main-out")
        assert "MH14CD5678" in card and "Locked by owner" in card and "A-101" in card
        assert "Open anyway" in card and "Lane clear" not in card
    finally:
        reader.tag_leave(LOCKED)
    # The car gave up and left: its tag is no longer read, and the card clears.
    wait_until(lambda: "Lane clear" in lane_card(guard.get("/").text, "main-out"), 20,
               what="the card to clear once the tag is no longer read")


def test_every_time_a_guard_reads_is_on_the_sites_clock(stack, guard):
    now = edge_now(stack)
    at = now.astimezone(UTC).replace(hour=13, minute=0, second=1, microsecond=0)
    if at <= now:
        at += timedelta(days=1)
    FileClock.set_time(stack.clock_file, at)  # 13:00 UTC: 18:30 in Kolkata, 10:00 in São Paulo
    for gate, epc in (("main-in", EPC), ("lagoa-in", EPC_OTHER)):
        stack.world.gates[gate].reader.push_once(epc)
        wait_until(lambda g=gate: decisions(stack, g, "tag_valid"), 15, what=f"{gate} decided")
        reader_outage(stack, gate)  # and an alert
    for gate in ("main-in", "lagoa-in"):
        assert decisions(stack, gate, "tag_valid")[-1]["at"][:16] == at.isoformat()[:16]
    kolkata, sao_paulo = "today, 18:30:0", "today, 10:00:0"

    live = guard.get("/").text
    listed = rows(live.split('id="decisions"')[1], "li")
    assert any("main-in" in r and "Resident vehicle" in r and kolkata in r for r in listed)
    assert any("lagoa-in" in r and "Resident vehicle" in r and sao_paulo in r for r in listed)
    assert any("main-in" in r and "reader down" in r and kolkata in r
               for r in rows(live.split('id="alerts"')[1], "li"))
    assert not ISO.search(text(live)) and "13:00" not in text(live)

    for q, when in (("MH12AB1234", "today, 18:30"), ("KA01HL0001", "today, 10:00")):
        page = guard.get("/lookup", params={"q": q}).text
        assert any(when in r and "tag_valid" in r for r in rows(page, "li")), q
        assert not ISO.search(text(page))

    events = guard.get("/events").text
    assert "Times on the site's clock (Asia/Kolkata)" in events
    table = rows(events)
    assert any("main-in" in r and "tag_valid" in r and kolkata in r for r in table)
    assert any("lagoa-in" in r and "tag_valid" in r and sao_paulo in r for r in table)
    assert not ISO.search(text(events))

    alerts = rows(guard.get("/alerts").text)
    assert any("main-in" in r and "reader down" in r and kolkata in r for r in alerts)
    assert any("lagoa-in" in r and "reader down" in r and sao_paulo in r for r in alerts)

    got = list(csv.DictReader(io.StringIO(guard.get("/events.csv", params={
        "type": "decision", "reason": "tag_valid"}).text)))
    day = at.strftime("%-d %b %Y")
    by_gate = {r["gate"]: r for r in got}
    assert by_gate["main-in"]["local_time"].startswith(f"{day}, 18:30:0")
    assert by_gate["main-in"]["time_zone"] == "Asia/Kolkata"
    assert by_gate["lagoa-in"]["local_time"].startswith(f"{day}, 10:00:0")
    assert by_gate["lagoa-in"]["time_zone"] == "America/Sao_Paulo"
    assert by_gate["main-in"]["at"].startswith(at.isoformat()[:16])  # ISO stays, for machines

    # A time typed in the filter is on the site's clock too (the box's first site's).
    day_there = at.astimezone(ZoneInfo("Asia/Kolkata")).date().isoformat()

    def kept(since: str) -> bool:
        page = guard.get("/events", params={"since": f"{day_there}T{since}", "gate": "main-in",
                                            "reason": "tag_valid"}).text
        return any("tag_valid" in r for r in rows(page))

    assert kept("18:29") and not kept("18:31")

    FileClock.advance(stack.clock_file, timedelta(days=1))  # the next day, the same events
    table = rows(guard.get("/events").text)
    assert any("main-in" in r and "tag_valid" in r and "yesterday, 18:30:0" in r for r in table)
    assert any("lagoa-in" in r and "tag_valid" in r and "yesterday, 10:00:0" in r
               for r in table)


def _layout(page: Page) -> dict:
    """What fits on the screen: the header's height, how many lane cards are in view (a
    card half in view counts a half), sideways scrolling, cells cut off, small targets."""
    return page.evaluate("""() => {
      const vh = window.innerHeight, vw = window.innerWidth;
      const lanes = [...document.querySelectorAll('.lane')].map(l => l.getBoundingClientRect())
        .map(r => Math.max(0, Math.min(r.bottom, vh) - Math.max(r.top, 0)) / r.height);
      const cut = [...document.querySelectorAll('.table-wrap, td, .lane, li')]
        .filter(e => e.offsetParent !== null && e.getClientRects().length)
        .filter(e => {
          const r = e.getBoundingClientRect();
          const clipped = e.matches('.table-wrap, td') && e.scrollWidth > e.clientWidth + 1;
          return clipped || (r.width > 1 && (r.left < -0.5 || r.right > vw + 0.5));
        }).map(e => e.outerHTML.slice(0, 80));
      const small = [...document.querySelectorAll('button, summary, nav a, label.reason, input')]
        .filter(e => e.offsetParent !== null && e.type !== 'hidden')
        .map(e => [e.outerHTML.slice(0, 60),
                   (e.closest('label.reason') || e).getBoundingClientRect().height])
        .filter(([, h]) => h < 44);
      const header = document.querySelector('body > header').getBoundingClientRect();
      return {scrollW: document.documentElement.scrollWidth, innerW: vw, header: header.height,
              lanesInView: lanes.reduce((a, b) => a + b, 0), lanes: lanes.length, cut, small};
    }""")


def sign_in(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.edge_url}/login")
    page.get_by_label("User name").fill("ravi")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Live")).to_have_class("on")


@pytest.mark.parametrize("size", list(SIZES))
def test_live_keeps_the_waiting_car_and_fits_four_lanes(stack, browser, shots, size):
    w, h = SIZES[size]
    page = browser.new_page(viewport={"width": w, "height": h})
    sign_in(page, stack)
    reader = stack.world.gates["main-out"].reader
    reader.tag_enter(LOCKED)
    try:
        card = page.locator("#gate-main-out")
        expect(card.locator(".verdict")).to_have_text(LOCKED_WORDS)
        decided = datetime.fromisoformat(decisions(stack, "main-out", "tag_locked")[-1]["at"])
        wait_until(lambda: edge_now(stack) - decided > timedelta(seconds=4 * PASS_WINDOW_S),
                   30, interval=0.2, what="four pass windows since the decision")
        # Two more health updates reach the page after that; the card still shows the car.
        lanes = page.locator("#lanes")
        n = int(lanes.get_attribute("data-health") or 0)
        page.wait_for_function(f"+document.getElementById('lanes').dataset.health >= {n + 2}")
        expect(card.locator(".vrn")).to_have_text("MH14CD5678")
        expect(card.locator(".verdict")).to_have_text(LOCKED_WORDS)
        expect(card.locator(".open-anyway summary")).to_have_text("Open anyway")
        nav = page.get_by_role("navigation").bounding_box()
        assert nav is not None
        layout = _layout(page)
        page.screenshot(path=shots / f"guard-live-{size}.png")
        assert layout["lanes"] == 4
        # One row of pages: 44 px targets on a phone, 56 px on a tablet.
        assert nav["height"] <= 60 and layout["header"] <= (64 if size == "phone" else 80), (
            layout["header"], nav)
        assert layout["lanesInView"] >= (3.5 if size == "phone" else 4), layout["lanesInView"]
        assert layout["scrollW"] <= layout["innerW"], "the page scrolls sideways"
        assert not layout["cut"], f"cut off: {layout['cut']}"
        assert not layout["small"], f"touch targets under 44 px: {layout['small']}"
        for link in ("Live", "Visitors", "Look up", "Events", "Alerts"):
            expect(page.get_by_role("link", name=link)).to_be_in_viewport()
        if size == "phone":  # the box, the guard and Sign out are behind ☰
            expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
            page.get_by_title("Account and sign out").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        expect(page.get_by_role("button", name="Sign out")).to_be_in_viewport()
    finally:
        reader.tag_leave(LOCKED)
    page.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_tables_reflow_and_the_lock_is_never_cut(stack, browser, shots, size):
    w, h = SIZES[size]
    page = browser.new_page(viewport={"width": w, "height": h})
    sign_in(page, stack)
    # Something in each table: a refused exit, a guard's open with a long reason, an alert.
    stack.world.gates["main-out"].reader.push_once(LOCKED)
    wait_until(lambda: decisions(stack, "main-out", "tag_locked"), 15, what="a refusal")
    reader_outage(stack, "lagoa-out")
    for path, name in (("/events", "events"), ("/alerts", "alerts"),
                       ("/lookup?q=MH14CD5678", "lookup")):
        page.goto(stack.edge_url + path)
        expect(page.locator("table.reflow").first).to_be_visible()
        layout = _layout(page)
        page.screenshot(path=shots / f"guard-{name}-{size}.png", full_page=True)
        assert layout["scrollW"] <= layout["innerW"], f"{path} scrolls sideways"
        assert not layout["cut"], f"{path}: cut off: {layout['cut']}"
    # The Lock column is there, in words, on the screen: the tag is locked.
    lock = page.get_by_role("cell", name=re.compile(r"locked until 1 Jan 2099, 18:00"))
    expect(lock).to_be_visible()
    box = lock.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= w
    expect(page.get_by_role("cell", name=re.compile(LOCKED))).to_be_visible()
    page.close()
