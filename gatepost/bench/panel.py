"""``gatepost bench panel``: how fast the guard sees a decision, and how fast a remote open
pulses the relay, through the real stack.

*Decision → visible*: a guard is signed in to the Live page in Debian's chromium (headless,
driven by Playwright). For each read the simulated reader sends one frame; the edge stamps the
decision with the wall clock (``decided_wall_ms``), and the page stamps the moment it has put
the row on screen (``performance.timeOrigin + performance.now()``, the same wall clock on this
machine). The difference is what the guard waits.

*Remote open → relay pulse*: the bench asks the cloud's HTTP API to open the exit gate for a
vehicle with an active tag and notes ``CLOCK_MONOTONIC``; the simulated relay board (in this
process) notes the same clock when the contact closes. The path in between is the real one:
the cloud's rule check, the signed command over the locked-down Mosquitto, the edge's
verification and local re-check, and the Modbus flash-on.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from gatepost.bench.measure import machine, spread
from gatepost.devstack.browser import launch
from gatepost.devstack.stack import GateSpec, Stack, StackOptions, wait_until

SITE = "bench-site"
USER = "bench-guard"


def _setup(stack: Stack, reads: int) -> tuple[list[str], str]:
    """A site with one vehicle per read (distinct tags: no read is a duplicate) and a guard."""
    c = stack.cloud
    c.post("/api/v1/sites", json={"id": SITE}).raise_for_status()
    for gate, direction in (("main-in", "entry"), ("main-out", "exit")):
        c.post(f"/api/v1/sites/{SITE}/gates", json={"id": gate, "direction": direction}
               ).raise_for_status()
    vehicles = [{"vrn": f"MH12AB{i:04d}"} for i in range(reads)]
    c.post(f"/api/v1/sites/{SITE}/vehicles/bulk", json={"vehicles": vehicles}
           ).raise_for_status()
    epcs = [f"E28011606000020400{i:06X}" for i in range(reads)]
    c.post(f"/api/v1/sites/{SITE}/tags/bulk", json={"tags": [
        {"epc": e, "vrn": v["vrn"], "status": "active"} for e, v in zip(epcs, vehicles,
                                                                        strict=True)]}
           ).raise_for_status()
    password = secrets.token_urlsafe(16)
    r = c.post(f"/api/v1/sites/{SITE}/accounts",
               json={"username": USER, "role": "guard", "password": password})
    r.raise_for_status()
    stack.wait_edge_version(SITE, r.json()["rules_version"], 30)
    return epcs, password


def _visible(stack: Stack, page, epcs: list[str]) -> tuple[list[float], int]:
    """Decision → row on the Live page, per read (ms)."""
    gate = stack.world.gates["main-in"]
    latencies: list[float] = []
    missed = 0
    cursor = stack.edge_last_event()
    for epc in epcs:
        gate.reader.push_once(epc)
        found = None
        deadline = time.monotonic() + 5
        while found is None and time.monotonic() < deadline:
            events, cursor = stack.edge_events_after(cursor, wait=1.0)
            found = next((e for e in events if e["type"] == "decision"
                          and e["credential"]["value"] == epc), None)
        if found is None:
            missed += 1
            continue
        seen = page.wait_for_function(
            f"window.gatepostSeen[{json.dumps(found['event_id'])}]", timeout=5000
        ).json_value()
        latencies.append(seen - found["decided_wall_ms"])
    return latencies, missed


def _remote(stack: Stack, opens: int, errors: set[str]) -> tuple[list[float], int]:
    """Cloud API request → relay contact closed, per open (ms)."""
    board = stack.world.gates["main-out"].board
    latencies: list[float] = []
    failed = 0
    for i in range(opens):
        # a relay still closed by the previous open cannot close again: wait for it to open
        wait_until(lambda: all(p.off_at is not None for p in board.pulses), 5,
                   what="the previous pulse to end")
        before = len(board.pulses)
        t0 = time.monotonic()
        r = stack.cloud.post(f"/api/v1/sites/{SITE}/gates/main-out/open",
                             json={"vrn": f"MH12AB{i:04d}", "by": "bench"})
        if r.status_code != 200 or r.json().get("status") != "ok":
            failed += 1
            errors.add(f"{r.status_code} {r.text[:200]}")
            continue
        if not board.wait_pulses(before + 1, 3):
            failed += 1
            continue
        pulse = next(p for p in board.pulses if p.on_at >= t0)
        latencies.append((pulse.on_at - t0) * 1000)
    return latencies, failed


def bench_panel(args: argparse.Namespace) -> int:
    """Run the panel benchmark and print one JSON object."""
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="gatepost-bench-panel-"))
    stack = Stack(work, [GateSpec("main-in", SITE, "entry"), GateSpec("main-out", SITE, "exit")],
                  StackOptions(edge_id="panel-box", policy={"dedup_hold_s": 0.0}))
    try:
        stack.start()
        epcs, password = _setup(stack, max(args.reads, args.opens))
        with sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page()
            page.goto(f"{stack.edge_url}/login")
            page.fill("input[name=username]", USER)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_selector("#decisions", state="attached")
            page.wait_for_function("window.gatepostSeen !== undefined")
            # the stream is open once the first health message has updated the page
            wait_until(lambda: page.evaluate(
                "document.querySelector('#gate-main-in .relay b').textContent") == "ok", 10,
                what="the Live page's event stream")
            visible, missed = _visible(stack, page, epcs[:args.reads])
            browser.close()
        errors: set[str] = set()
        remote, failed = _remote(stack, args.opens, errors)
        out = {
            "bench": "panel", "reads": args.reads, "opens": args.opens,
            "decision_to_visible_ms": spread(visible, (50, 95, 99), 1, with_max=True)
            if visible else {},
            "missed": missed,
            "remote_open_to_pulse_ms": spread(remote, (50, 95, 99), 1, with_max=True)
            if remote else {},
            "remote_failed": failed, "remote_errors": sorted(errors)[:5],
            "machine": machine(),
        }
        print(json.dumps(out, indent=None if args.json else 2))
        return 0 if visible and remote and not missed and not failed else 1
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)
