"""The fleet of edge boxes: which sites and gates each box was provisioned for, and what the
cloud does with a message from a box about a gate that is not its own.

A box speaks (events, gate claims, command answers) only for gates assigned to it. A site
assigned without gates means every gate of that site that no box holds by name; a gate named
for one box is held by that box alone, and naming it for another box moves it (a replaced
box). Everything else is refused, counted, written to the audit log and raised to staff as an
``edge_refused`` notification (at most one per box, cause and gate every 15 minutes, so a
flood of forgeries cannot flood the log or the staff's inbox).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from cloud.errors import CloudError
from cloud.notify import Notifier
from cloud.refusals import Refusal
from cloud.storage import Database, Tx
from cloud.storage import fleet as store
from cloud.storage.staff import write_audit
from shared.clock import Clock
from shared.contract import SEGMENT
from shared.counters import Counters

log = logging.getLogger(__name__)

WHOLE_SITE = "*"
CACHE_S = 5.0  # how long a process trusts what it read of a site's assignments, at most
UNUSED_S = 60.0  # a site no box spoke for in this long is no longer kept fresh
ALERT_WINDOW_S = 15 * 60


@dataclass
class _Site:
    """What a process read of one site's assignments: gate (``*``: the whole site) -> boxes."""

    held: dict[str, frozenset[str]]
    read_at: float
    used_at: float


def _holds(held: dict[str, frozenset[str]], edge: str, gate: str) -> bool:
    """Whether *edge* holds *gate* of a site assigned as *held* (gate -> boxes): by name, or
    with the whole site when no box holds the gate by name."""
    named = held.get(gate)
    return edge in named if named else edge in held.get(WHOLE_SITE, ())


@dataclass(frozen=True)
class GateRef:
    """One gate of one site."""

    site: str
    gate: str

    @classmethod
    def parse(cls, text: str) -> GateRef:
        """``SITE/GATE``."""
        site, _, gate = text.partition("/")
        for name in (site, gate):
            if not SEGMENT.match(name):
                raise ValueError(f"{text!r}: give a gate as SITE/GATE ([A-Za-z0-9_-])")
        return cls(site, gate)


def check_gates(sites: list[str], gates: list[GateRef]) -> None:
    """Refuse gates named outside the box's sites (``gate_outside_sites``)."""
    stray = sorted({g.site for g in gates} - set(sites))
    if stray:
        raise CloudError(422, Refusal.GATE_OUTSIDE_SITES,
                         f"gates of {', '.join(stray)} need the site in the box's sites")


class Fleet:
    """Assignments of boxes to sites and gates, and the check every box message passes."""

    def __init__(self, db: Database, clock: Clock, notifier: Notifier | None = None,
                 counters: Counters | None = None) -> None:
        self.db = db
        self.clock = clock
        self.notifier = notifier
        self.counters = counters if counters is not None else Counters()
        self._cache: dict[str, _Site] = {}
        self._alerted: dict[tuple[str, str, str, str], float] = {}
        self._lock = threading.Lock()

    # Provisioning -----------------------------------------------------------------------------
    def assign(self, edge: str, sites: list[str], gates: list[GateRef] | None = None,
               c: Tx | None = None) -> dict[str, Any]:
        """Give *edge* exactly these sites and gates (replacing what it had). A site without
        named gates is the whole site; a named gate leaves any other box that held it."""
        sites = list(dict.fromkeys(sites))  # each once, in the order given
        gates = list(dict.fromkeys(gates or []))
        check_gates(sites, gates)
        if c is None:
            with self.db.write() as tx:
                return self.assign(edge, sites, gates, tx)
        now = self.clock.now().isoformat()
        store.clear_assignment(c, edge)
        named = {g.site for g in gates}
        rows = [(edge, g.site, g.gate, now) for g in gates]
        rows += [(edge, s, WHOLE_SITE, now) for s in sites if s not in named]
        for g in gates:
            if store.take_gate(c, g.site, g.gate, edge):
                log.info("gate %s/%s moved to box %s", g.site, g.gate, edge)
        store.assign(c, rows)
        # Claims the box made for what is no longer its own are void.
        claims = store.claims(c, edge)
        held = store.site_assignments(c, sorted({r["site"] for r in claims}))
        for r in claims:
            if not _holds(held[r["site"]], edge, r["gate"]):
                store.drop_claim(c, r["site"], r["gate"], edge)
        store.set_edge_sites(c, edge, sites)
        with self._lock:
            self._cache.clear()
        return self.assignment(edge, c)

    def assignment(self, edge: str, c: Tx | None = None) -> dict[str, Any]:
        """A box's sites and its gates held by name (``whole_sites``: sites it serves whole)."""
        rows = store.assignment(c or self.db.conn, edge)
        return {"edge": edge, "sites": sorted({r["site"] for r in rows}),
                "gates": [{"site": r["site"], "gate": r["gate"]} for r in rows
                          if r["gate"] != WHOLE_SITE],
                "whole_sites": [r["site"] for r in rows if r["gate"] == WHOLE_SITE]}

    def last_seqs(self, edge: str) -> dict[str, int]:
        """The highest event number stored per gate of *edge*, as ``site/gate``."""
        return store.last_seqs(self.db.conn, edge)

    def boxes(self) -> list[dict[str, Any]]:
        """Every known box: its availability and its assignment."""
        c = self.db.conn
        seen = {r["id"]: dict(r) for r in store.edges(c)}
        names = store.assigned_edges(c)
        out = []
        for edge in sorted(names | set(seen)):
            got = seen.get(edge, {"id": edge, "availability": "unknown", "at": None})
            out.append(got | {k: v for k, v in self.assignment(edge).items() if k != "edge"})
        return out

    # The check --------------------------------------------------------------------------------
    def may_speak(self, edge: str, site: str, gate: str) -> bool:
        """Whether *edge* was assigned this gate, as read at most ``CACHE_S`` ago. A site is
        read here only the first time (or when :meth:`refresh` fell behind), so the message
        thread seldom waits for the database."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(site)
            if hit is not None:
                hit.used_at = now
        if hit is None or now - hit.read_at >= CACHE_S:
            hit = self._read([site])[site]
        return _holds(hit.held, edge, gate)

    def refresh(self) -> int:
        """Read again, a few hundred sites a query, the sites that are half-way to
        ``CACHE_S``, and forget those no box spoke for in ``UNUSED_S``; how many were read.
        The ingest runs it every second."""
        now = time.monotonic()
        with self._lock:
            for site in [s for s, h in self._cache.items() if now - h.used_at >= UNUSED_S]:
                del self._cache[site]
            due = [s for s, h in self._cache.items() if now - h.read_at >= CACHE_S / 2]
        if due:
            self._read(due)
        return len(due)

    def warm(self) -> int:
        """Read every site's assignments in one query; how many sites. A process that starts
        (or restarts under a fleet's reconnecting boxes) would otherwise read each site on its
        first message, one round trip at a time on the message thread."""
        return len(self._read(None))

    def _read(self, sites: list[str] | None) -> dict[str, _Site]:
        now = time.monotonic()  # before the read: what it sees is at least this fresh
        with self.db.read() as c:
            held = store.site_assignments(c, sites)
        with self._lock:
            if len(self._cache) > 100_000:
                self._cache.clear()
            for site, gates in held.items():
                old = self._cache.get(site)
                self._cache[site] = _Site(gates, now, old.used_at if old else now)
            return {s: self._cache[s] for s in (held if sites is None else sites)}

    def edge_for(self, site: str, gate: str) -> str | None:
        """The box that serves a gate: the one it was assigned to by name, else the box that
        claimed it (claims are stored only from boxes that may make them)."""
        c = self.db.conn
        named = store.holders(c, site, gate)
        if named:
            return min(named)
        claimed = store.claimant(c, site, gate)
        return claimed if claimed and self.may_speak(claimed, site, gate) else None

    # Refusals ---------------------------------------------------------------------------------
    def refuse(self, edge: str, cause: str, site: str, gate: str, topic: str,
               detail: str = "") -> None:
        """Count a message a box may not send; audit it and alert staff once a window."""
        self.counters.inc(f"refused_{cause}")
        now = time.monotonic()
        key = (edge, cause, site, gate)
        with self._lock:
            last = self._alerted.get(key)
            if last is not None and now - last < ALERT_WINDOW_S:
                return
            self._alerted[key] = now
        what = f"{cause} for {site}/{gate}, not assigned to box {edge}"
        log.warning("refused %s%s", what, f" ({detail})" if detail else "")
        at = self.clock.now()
        window = int(at.timestamp() // ALERT_WINDOW_S)
        with self.db.write() as c:
            write_audit(c, at.isoformat(), None, f"edge:{edge}", "MQTT", topic, 403, what)
            if self.notifier is not None:
                self.notifier.enqueue(
                    c, f"edge_refused:{edge}:{cause}:{site}:{gate}:{window}", "edge_refused",
                    f"Box {edge} sent {cause} for gate {site}/{gate}, which is not its own",
                    {"edge": edge, "cause": cause, "site": site, "gate": gate,
                     "topic": topic, "at": at.isoformat(), "detail": detail})
