"""``gatepost bench faults``: the faults a fleet meets, played against the real stack on
loopback, and what they cost. Every goal is 0.

In order, with reads arriving at both gates all the time:

1. **Forged-box probes**: a second provisioned box (its own credentials, its own topics) sends
   events for this box's gate with this box's next numbers, claims the gate (retained) and
   sends passes for this site's parking. Counted as ``accepted`` if any of it is stored, routes
   a remote open, or puts a car inside.
2. **Edge kills**: ``--kills`` SIGKILLs of the edge daemon mid-stream, alternately with the
   uplink up (events in flight) and down (events held in the event log), each followed by a
   restart.
3. **Cloud kills**: ``--cloud-kills`` SIGKILLs of the cloud while it stores a backlog the box
   is draining, each followed by a restart on the same database.
4. **Broker down**: the broker stopped for ``--broker-down-s`` (the gate keeps deciding).
5. Then the count: events ``lost`` and ``duplicated`` at the cloud.
6. **Cloud restored from a backup**: changes made after the backup are lost by the restore;
   the box must notice and follow the restored rules.

Rules rounds (a tag added, the previous one blocked, both read at the gate once the box says it
holds the cloud's rules) run every ``--stale-every`` kills and after every other fault; a decision
that does not follow the cloud's rules, or a box that does not catch up, counts as ``stale``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from cloud.society.provision import edge_user
from gatepost.bench.faults_traffic import StaleCheck, Traffic, account, issued, timed
from gatepost.bench.measure import machine, plate_vrn, spread, tag_epc
from gatepost.devstack.probes import ProbeBox
from gatepost.devstack.stack import GateSpec, Stack, StackOptions, wait_until
from shared.vocab import EventType

SITE, OTHER = "faults-site", "faults-other"
EDGE, ROGUE = "faults-box", "rogue-box"
PARKING = f"/api/v1/parkings/{SITE}-p"
CAR = {"vrn": "MH12FB0001", "type": "4W"}
PROBE_PREFIX = "E2801160FFFF0000"


def _setup(stack: Stack, n_tags: int) -> None:
    c = stack.cloud

    def ok(method: str, url: str, **kw) -> dict:
        r = c.request(method, url, **kw)
        r.raise_for_status()
        return r.json()

    for site in (SITE, OTHER):
        ok("POST", "/api/v1/sites", json={"id": site})
    ok("POST", f"/api/v1/sites/{OTHER}/gates", json={"id": "main-in", "direction": "entry"})
    ok("POST", f"/api/v1/sites/{SITE}/vehicles/bulk", json={"vehicles": [
        {"vrn": plate_vrn(i), "type": "4W"} for i in range(n_tags)]})
    v = ok("POST", f"/api/v1/sites/{SITE}/tags/bulk", json={"tags": [
        {"epc": tag_epc(i), "vrn": plate_vrn(i), "status": "active"} for i in range(n_tags)]})
    # A parking of the site, with a gate no box serves yet, and a subscriber's car.
    for gate, direction in (("lane-1", "entry"), ("lane-2", "exit"), ("p-in", "entry"),
                            ("p-out", "exit")):
        ok("POST", f"/api/v1/sites/{SITE}/gates", json={"id": gate, "direction": direction})
    ok("POST", f"/api/v1/sites/{SITE}/parkings", json={"id": f"{SITE}-p", "name": "P"})
    ok("POST", f"{PARKING}/spaces", json={"numbers": "1..2", "size": "small"})
    ok("POST", f"{PARKING}/tariffs", json={"size": "small", "unit": "daily", "lower": 1,
                                           "upper": 90, "price": 100})
    for gate in ("p-in", "p-out"):
        ok("PUT", f"/api/v1/sites/{SITE}/gates/{gate}/parking", json={"parking": f"{SITE}-p"})
    ok("POST", f"{PARKING}/activate")
    stack.wait_edge_version(SITE, v["rules_version"], 60)


def probes(stack: Stack, traffic: Traffic) -> dict:
    """The compromised box's attacks; what of each the cloud accepted."""
    rogue = ProbeBox(stack.broker.port, ROGUE, stack.auth.passwords[edge_user(ROGUE)])
    c = stack.cloud
    own = iter(range(1, 1_000_000))

    def handled() -> None:
        """An event at the rogue's own gate, acknowledged: the cloud took everything before."""
        seq = next(own)
        rogue.event(OTHER, "main-in", seq, outcome="deny", reason="unknown_credential")
        wait_until(lambda: f"main-in:{seq}" in rogue.acks, 15, what="the rogue's own event")

    try:
        # 1. Events for this box's gate, with its next numbers.
        traffic.paused.set()
        nxt = int(stack.edge_health()["last_seq"].get("lane-1", 0)) + 1
        for seq in range(nxt, nxt + 20):
            rogue.event(SITE, "lane-1", seq, outcome="open", reason="tag_valid")
        handled()
        traffic.paused.clear()
        # 2. A retained claim of the gate, then a remote open of it.
        rogue.claim((SITE, "lane-1"), (OTHER, "main-in"))
        handled()
        opened = c.post(f"/api/v1/sites/{SITE}/gates/lane-1/open", json={"by": "staff"})
        routed_away = opened.status_code != 200 or opened.json().get("edge") != EDGE
        # 3. Passes for the site's parking: at its gate, and at the rogue's own gate.
        sub = c.post(f"{PARKING}/subscriptions", json={
            "space": 1, "owner": "Flat F-1", "vehicles": [CAR], "amount": 300})
        sub.raise_for_status()
        rogue.event(SITE, "p-in", 1, EventType.PASS, parking=f"{SITE}-p", vrn=CAR["vrn"],
                    direction="entry")
        rogue.event(OTHER, "main-in", next(own), EventType.PASS, parking=f"{SITE}-p",
                    vrn=CAR["vrn"], direction="entry")
        handled()
        inside = c.post(f"/api/v1/subscriptions/{sub.json()['id']}/deactivate", json={})
    finally:
        traffic.paused.clear()
        rogue.close()
    events = c.get("/api/v1/events", params={"site": SITE, "limit": 100000}).json()["events"]
    return {
        "forged_events": {"sent": 20, "accepted": sum(
            e["edge"] == ROGUE and e["type"] == "decision" for e in events)},
        "gate_claim": {"sent": 1, "accepted": int(routed_away),
                       "remote_open": {"status": opened.status_code,
                                       "edge": opened.json().get("edge")}},
        "forged_pass": {"sent": 2, "accepted": int(inside.status_code == 409)
                        + sum(e["edge"] == ROGUE and e["type"] == "pass" for e in events)},
    }


def edge_kills(stack: Stack, n: int, stale: StaleCheck, every: int, deadline: float,
               restarts: list[float]) -> int:
    """Kill the edge *n* times (or until *deadline*); kills done."""
    assert stack.mqtt_link is not None
    done = 0
    for k in range(n):
        if time.monotonic() > deadline:
            break
        offline = k % 2 == 1
        if offline:
            stack.mqtt_link.down()
        target = issued(stack) + (10 if offline else 4)
        wait_until(lambda n=target: issued(stack) >= n, 30,
                   interval=0.01, what="traffic before the kill")
        stack.kill_edge()
        timed(stack.start_edge, restarts)
        if offline:
            stack.mqtt_link.up()
        done += 1
        if every and done % every == 0:
            stale.check()
    return done


def cloud_kills(stack: Stack, n: int, outage_s: float, stale: StaleCheck) -> int:
    """Kill the cloud *n* times while it stores a backlog; kills done."""
    assert stack.mqtt_link is not None
    for _ in range(n):
        stack.mqtt_link.down()
        wait_until(lambda: stack.edge_health()["outbox"] >= 200 * outage_s, outage_s * 4 + 10,
                   interval=0.1, what="a backlog at the box")
        held = stack.edge_health()["outbox"]
        stack.mqtt_link.up()
        wait_until(lambda h=held: stack.edge_health()["outbox"] < h * 0.7, 60, interval=0.005,
                   what="the cloud storing the backlog")
        stack.kill_cloud()
        stack.start_cloud()
        stale.check()
    return n


def broker_down(stack: Stack, seconds: float, traffic: Traffic, stale: StaleCheck) -> int:
    """Stop the broker for *seconds*; decisions made meanwhile."""
    before = traffic.decisions_seen()
    stack.broker.stop()
    time.sleep(seconds)  # the outage's length is the fault itself, not a wait for a condition
    during = traffic.decisions_seen() - before
    stack.broker.start()
    wait_until(lambda: stack.edge_health()["cloud_connected"], 60, interval=0.1,
               what="the box back on the broker")
    stale.check()
    return during


def restore(stack: Stack, stale: StaleCheck) -> None:
    """Back the cloud up, change the rules, restore the backup, change them again."""
    db = stack.workdir / "cloud" / "cloud.sqlite"
    backup = stack.workdir / "cloud-backup.sqlite"
    stack.stop_cloud()
    shutil.copyfile(db, backup)
    stack.start_cloud()
    stale.check()
    stale.check()
    stack.stop_cloud()
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, db)
    stack.start_cloud()
    stale.check(change=False)  # the restored rules, as they were
    stale.check()


def bench_faults(args: argparse.Namespace) -> int:
    """Run the bench and print its JSON."""
    work = Path(tempfile.mkdtemp(prefix="gatepost-faults-"))
    gates = [GateSpec("lane-1", SITE, "entry"), GateSpec("lane-2", SITE, "exit")]
    stack = Stack(work, gates, StackOptions(edge_id=EDGE, policy={"dedup_hold_s": 0.0},
                                            other_edges={ROGUE: (OTHER,)}))
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    t0 = time.monotonic()
    traffic: Traffic | None = None
    try:
        stack.start()
        _setup(stack, 300)
        traffic = Traffic(stack, [tag_epc(i) for i in range(300)], PROBE_PREFIX,
                          rate=args.rate).start()
        stale = StaleCheck(stack, traffic, SITE, plate_vrn(0), "lane-1")
        stale.check()
        log("forged-box probes …")
        probed = probes(stack, traffic)
        log(f"{args.kills} edge kills …")
        restarts: list[float] = []
        kills = edge_kills(stack, args.kills, stale, args.stale_every,
                           t0 + args.max_seconds, restarts)
        log(f"{args.cloud_kills} cloud kills …")
        ckills = cloud_kills(stack, args.cloud_kills, args.outage_s, stale)
        log(f"broker down {args.broker_down_s} s …")
        while_down = broker_down(stack, args.broker_down_s, traffic, stale) \
            if args.broker_down_s > 0 else 0
        traffic.stop()
        counted = account(stack, SITE, EDGE, work / "cloud" / "cloud.sqlite", traffic.seen,
                          timeout=120)
        log("cloud restored from a backup …")
        traffic = Traffic(stack, [tag_epc(i) for i in range(300)], PROBE_PREFIX,
                          rate=args.rate).start()
        stale.traffic = traffic
        restore(stack, stale)
        accepted = sum(p["accepted"] for p in probed.values())
        result = {
            "bench": "faults", "edge_kills": kills, "cloud_kills": ckills,
            "broker_down_s": args.broker_down_s, "restores": 1,
            **counted, "accepted": accepted, "probes": probed,
            "stale": stale.stale, "stale_checks": stale.checks,
            "stale_not_converged": stale.not_converged,
            "rules_converge_s": spread(stale.converge_times, (50, 99), 3, with_max=True)
            if stale.converge_times else {},
            "decisions_while_broker_down": while_down,
            "edge_restart_s": spread(restarts, (50, 99), 2, with_max=True) if restarts else {},
            "seconds": round(time.monotonic() - t0, 1), "machine": machine(),
        }
        result["ok"] = not (counted["lost"] or counted["duplicated"] or accepted
                            or stale.stale or counted["seen_missing"]
                            or counted["seen_different"]) and kills == args.kills
        print(json.dumps(result, indent=None if args.json else 2))
        return 0 if result["ok"] else 1
    finally:
        if traffic:
            traffic.stop()
        stack.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
