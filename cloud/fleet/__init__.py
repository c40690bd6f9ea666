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

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from cloud.errors import CloudError
from cloud.notify import Notifier
from cloud.staff import write_audit
from cloud.storage import Database, Tx
from shared.clock import Clock
from shared.contract import SEGMENT
from shared.counters import Counters

log = logging.getLogger(__name__)

WHOLE_SITE = "*"
CACHE_S = 5.0  # how long a process trusts what it read of the assignments
ALERT_WINDOW_S = 15 * 60


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
        raise CloudError(422, "gate_outside_sites",
                         f"gates of {', '.join(stray)} need the site in the box's sites")


class Fleet:
    """Assignments of boxes to sites and gates, and the check every box message passes."""

    def __init__(self, db: Database, clock: Clock, notifier: Notifier | None = None,
                 counters: Counters | None = None) -> None:
        self.db = db
        self.clock = clock
        self.notifier = notifier
        self.counters = counters or Counters()
        self._cache: dict[tuple[str, str, str], tuple[bool, float]] = {}
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
        c.execute("DELETE FROM edge_assignments WHERE edge = ?", (edge,))
        named = {g.site for g in gates}
        rows = [(edge, g.site, g.gate, now) for g in gates]
        rows += [(edge, s, WHOLE_SITE, now) for s in sites if s not in named]
        for g in gates:
            moved = c.execute("DELETE FROM edge_assignments WHERE site = ? AND gate = ? AND "
                              "edge <> ?", (g.site, g.gate, edge)).rowcount
            c.execute("DELETE FROM edge_gates WHERE site = ? AND gate = ? AND edge <> ?",
                      (g.site, g.gate, edge))
            if moved:
                log.info("gate %s/%s moved to box %s", g.site, g.gate, edge)
        c.executemany("INSERT INTO edge_assignments(edge, site, gate, assigned_at) VALUES "
                      "(?, ?, ?, ?)", rows)
        # Claims the box made for what is no longer its own are void.
        for r in c.execute("SELECT site, gate FROM edge_gates WHERE edge = ?",
                           (edge,)).fetchall():
            if not self._allowed(c, edge, r["site"], r["gate"]):
                c.execute("DELETE FROM edge_gates WHERE site = ? AND gate = ? AND edge = ?",
                          (r["site"], r["gate"], edge))
        c.execute("UPDATE staff SET edge_sites = ? WHERE name = ?",
                  (json.dumps(sorted(sites)), f"edge:{edge}"))
        with self._lock:
            self._cache.clear()
        return self.assignment(edge, c)

    def assignment(self, edge: str, c: Tx | None = None) -> dict[str, Any]:
        """A box's sites and its gates held by name (``whole_sites``: sites it serves whole)."""
        rows = (c or self.db.conn).execute(
            "SELECT site, gate FROM edge_assignments WHERE edge = ? ORDER BY site, gate",
            (edge,)).fetchall()
        return {"edge": edge, "sites": sorted({r["site"] for r in rows}),
                "gates": [{"site": r["site"], "gate": r["gate"]} for r in rows
                          if r["gate"] != WHOLE_SITE],
                "whole_sites": [r["site"] for r in rows if r["gate"] == WHOLE_SITE]}

    def last_seqs(self, edge: str) -> dict[str, int]:
        """The highest event number stored per gate of *edge*, as ``site/gate``."""
        return {f"{r[0]}/{r[1]}": int(r[2]) for r in self.db.conn.execute(
            "SELECT site, gate, max(seq) FROM events WHERE edge = ? GROUP BY site, gate",
            (edge,))}

    def boxes(self) -> list[dict[str, Any]]:
        """Every known box: its availability and its assignment."""
        c = self.db.conn
        seen = {r["id"]: dict(r) for r in c.execute("SELECT * FROM edges")}
        names = {r[0] for r in c.execute("SELECT DISTINCT edge FROM edge_assignments")}
        out = []
        for edge in sorted(names | set(seen)):
            got = seen.get(edge, {"id": edge, "availability": "unknown", "at": None})
            out.append(got | {k: v for k, v in self.assignment(edge).items() if k != "edge"})
        return out

    # The check --------------------------------------------------------------------------------
    def may_speak(self, edge: str, site: str, gate: str) -> bool:
        """Whether *edge* was assigned this gate (cached for a few seconds per process)."""
        key = (edge, site, gate)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        ok = self._allowed(self.db.conn, edge, site, gate)
        with self._lock:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = (ok, now + CACHE_S)
        return ok

    @staticmethod
    def _allowed(c: Any, edge: str, site: str, gate: str) -> bool:
        holders = {r[0] for r in c.execute(
            "SELECT edge FROM edge_assignments WHERE site = ? AND gate = ?", (site, gate))}
        if holders:
            return edge in holders
        return c.execute("SELECT 1 FROM edge_assignments WHERE edge = ? AND site = ? AND "
                         "gate = ?", (edge, site, WHOLE_SITE)).fetchone() is not None

    def edge_for(self, site: str, gate: str) -> str | None:
        """The box that serves a gate: the one it was assigned to by name, else the box that
        claimed it (claims are stored only from boxes that may make them)."""
        c = self.db.conn
        row = c.execute("SELECT edge FROM edge_assignments WHERE site = ? AND gate = ?",
                        (site, gate)).fetchone()
        if row is not None:
            return str(row[0])
        row = c.execute("SELECT edge FROM edge_gates WHERE site = ? AND gate = ?",
                        (site, gate)).fetchone()
        return str(row[0]) if row and self.may_speak(str(row[0]), site, gate) else None

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
