"""What ``gatepost bench faults`` plays against the real stack, and how it keeps count.

- :class:`Traffic` reads tags at every gate all the time and watches the edge's live events. The
  edge shows a decision only after it has written it, so every decision seen is one the box has
  committed to deliver, whatever happens to it next.
- :func:`account` waits for the box and the cloud to settle, then counts events lost and
  duplicated, from the cloud's database and from what the edge showed.
- :class:`StaleCheck` changes the rules at the cloud (a new tag, the previous one blocked), waits
  until the box says it holds the cloud's version and epoch, then reads both tags at a gate: a
  decision that does not follow the cloud's rules is stale.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from cloud.storage import Database
from gatepost.devstack.stack import Stack, wait_until
from shared.vocab import Reason

REFUSALS = {Reason.UNKNOWN_CREDENTIAL.value: "unknown", Reason.TAG_INACTIVE.value: "inactive"}


def issued(stack: Stack) -> int:
    """Events the box has numbered so far, all gates."""
    return int(sum(stack.edge_health(timeout=10)["last_seq"].values()))


@dataclass
class Seen:
    """Decisions the edge showed, by event id, and the probe tags' decisions in order."""

    decisions: dict[str, tuple[str, str]] = field(default_factory=dict)  # id → (value, reason)
    probes: list[tuple[str, str]] = field(default_factory=list)  # (epc, reason)


class Traffic:
    """Reads at every gate, *rate* a second in all, and a watcher of the edge's live events
    (it rides through restarts of the edge)."""

    def __init__(self, stack: Stack, epcs: list[str], probe_prefix: str,
                 rate: float = 100.0) -> None:
        self.stack, self.epcs, self.rate = stack, epcs, rate
        self.probe_prefix = probe_prefix
        self.seen = Seen()
        self.lock = threading.Lock()
        self.paused = threading.Event()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._reads, daemon=True),
                         threading.Thread(target=self._watch, daemon=True)]

    def start(self) -> Traffic:
        """Begin reading and watching."""
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        """Stop both threads."""
        self._stop.set()
        for t in self._threads:
            t.join(10)

    def _reads(self) -> None:
        gates = list(self.stack.world.gates.values())
        i = 0
        while not self._stop.is_set():
            if not self.paused.is_set():
                gates[i % len(gates)].reader.push_once(self.epcs[i % len(self.epcs)])
                i += 1
            self._stop.wait(1 / self.rate)

    def _watch(self) -> None:
        after = 0
        while not self._stop.is_set():
            try:
                events, last = self.stack.edge_events_after(after, wait=0.2)
            except (httpx.HTTPError, OSError, ValueError):  # the edge is down for a moment
                after = 0
                self._stop.wait(0.05)
                continue
            if last < after:  # a restarted edge numbers its live events from 1 again
                after = 0
                continue
            after = last
            with self.lock:
                for e in events:
                    if e["type"] != "decision" or not e.get("event_id"):
                        continue
                    value = e["credential"]["value"]
                    self.seen.decisions[e["event_id"]] = (value, e["reason"])
                    if value.startswith(self.probe_prefix):
                        self.seen.probes.append((value, e["reason"]))

    def decisions_seen(self) -> int:
        """Decisions seen so far."""
        with self.lock:
            return len(self.seen.decisions)


def stored_counts(store: Database, edge: str) -> tuple[int, int]:
    """Rows the cloud holds of *edge*'s events, and how many distinct events they are."""
    rows = int(store.conn.execute("SELECT count(*) FROM events WHERE edge = ?",
                                  (edge,)).scalar())
    distinct = int(store.conn.execute(
        "SELECT count(*) FROM (SELECT DISTINCT site, gate, seq FROM events WHERE edge = ?) d",
        (edge,)).scalar())
    return rows, distinct


def account(stack: Stack, site: str, edge: str, db_path: Path, seen: Seen,
            timeout: float) -> dict:
    """Wait until the box has sent everything and the cloud holds it, then count: events the
    box numbered, stored once, lost, duplicated (two rows of one event, or one decision stored
    under two ids), and decisions the edge showed that are missing or different at the cloud."""
    store = Database(db_path, upgrade=False)
    try:
        def settled() -> bool:
            return (stack.edge_health(timeout=10)["outbox"] == 0
                    and stored_counts(store, edge)[0] >= issued(stack))

        try:
            wait_until(settled, timeout, interval=0.5, what="every event at the cloud")
        except TimeoutError:
            pass  # counted below as lost
        numbered = issued(stack)
        total, distinct = stored_counts(store, edge)
        stored: dict[str, str] = {}
        twice: dict[tuple[str, str, str], int] = {}
        for eid, gate, at, data in store.conn.execute(
                "SELECT id, gate, at, data FROM events WHERE edge = ? AND site = ? "
                "AND type = 'decision'", (edge, site)):
            stored[eid] = data
            key = (gate, str(at), json.loads(data)["credential"]["value"])
            twice[key] = twice.get(key, 0) + 1
    finally:
        store.close()
    differ = missing = 0
    for eid, (value, reason) in seen.decisions.items():
        got = stored.get(eid)
        if got is None:
            missing += 1
        else:
            d = json.loads(got)
            differ += d["credential"]["value"] != value or d["reason"] != reason
    return {"issued": numbered, "stored_once": distinct, "lost": max(0, numbered - distinct),
            "duplicated": (total - distinct) + sum(n - 1 for n in twice.values() if n > 1),
            "decisions_seen": len(seen.decisions), "seen_missing": missing,
            "seen_different": differ}


class StaleCheck:
    """Rules rounds: each adds a probe tag and blocks the one before, at the cloud; once the box
    holds the cloud's version and epoch, both are read at *gate*."""

    def __init__(self, stack: Stack, traffic: Traffic, site: str, vrn: str, gate: str,
                 converge_s: float = 20.0) -> None:
        self.stack, self.traffic, self.site, self.vrn = stack, traffic, site, vrn
        self.gate, self.converge_s = gate, converge_s
        self.round = 0
        self.checks = self.stale = self.not_converged = 0
        self.converge_times: list[float] = []

    def epc(self, n: int) -> str:
        """The probe tag of round *n*."""
        return f"{self.traffic.probe_prefix}{n:08X}"

    def change(self) -> None:
        """This round's rules change at the cloud."""
        self.round += 1
        c = self.stack.cloud
        c.post(f"/api/v1/sites/{self.site}/tags", json={
            "epc": self.epc(self.round), "vrn": self.vrn, "status": "active"}).raise_for_status()
        if self.round > 1:
            r = c.post(f"/api/v1/tags/{self.epc(self.round - 1)}/block")
            if r.status_code != 404:  # a restored cloud may not know it: then it is unknown
                r.raise_for_status()

    def expected(self, epc: str) -> str:
        """What the cloud's rules say of *epc*: unknown, inactive or valid."""
        r = self.stack.cloud.get(f"/api/v1/tags/{epc}")
        if r.status_code == 404:
            return "unknown"
        r.raise_for_status()
        return "valid" if r.json()["status"] == "active" else "inactive"

    def converged(self) -> bool:
        """Whether the box holds the cloud's version and epoch of the site's rules."""
        cloud = self.stack.cloud.get("/api/v1/health").json()
        edge = self.stack.edge_health(timeout=10)
        return (edge["rules"].get(self.site) == cloud["rules"].get(self.site)
                and edge["rules_epochs"].get(self.site) == cloud["rules_epoch"])

    def check(self, change: bool = True) -> int:
        """One round: change (unless told not to), wait, read, compare; stale decisions."""
        if change:
            self.change()
        t0 = time.monotonic()
        try:
            wait_until(self.converged, self.converge_s, interval=0.05,
                       what="the box on the cloud's rules")
        except TimeoutError:
            self.not_converged += 1
            self.stale += 1
            return 1
        self.converge_times.append(time.monotonic() - t0)
        stale = 0
        for n in (self.round, self.round - 1):
            if n < 1:
                continue
            epc = self.epc(n)
            stale += self._read(epc) != self.expected(epc)
            self.checks += 1
        self.stale += stale
        return stale

    def _read(self, epc: str) -> str:
        seen = self.traffic.seen
        with self.traffic.lock:
            before = len(seen.probes)
        self.stack.world.gates[self.gate].reader.push_once(epc)

        def decided() -> bool:
            with self.traffic.lock:
                return any(v == epc for v, _ in seen.probes[before:])

        wait_until(decided, 10, interval=0.02, what=f"a decision on {epc}")
        with self.traffic.lock:
            reason = next(r for v, r in seen.probes[before:] if v == epc)
        return REFUSALS.get(reason, "valid")


def timed(fn: Callable[[], None], into: list[float]) -> None:
    """Run *fn* and append its duration in seconds to *into*."""
    t0 = time.monotonic()
    fn()
    into.append(time.monotonic() - t0)
