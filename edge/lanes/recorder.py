"""Writing what happened at a gate: the outbox (for the cloud), the journal and the live ring
(for the panel), and the counters. Lanes call it from their own threads; the outbox's write
transactions serialise them.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import Counter, Histogram

from edge.core.types import Decision
from edge.store.cache import RulesCache
from edge.store.db import EdgeDB
from edge.store.evidence import EvidenceStore
from edge.store.outbox import Outbox
from edge.store.ring import EventRing
from shared.contract import Event
from shared.counters import Counters
from shared.vocab import EventType
from shared.wire.events import (
    TYPE_OF,
    AlertData,
    CredentialRef,
    DecisionData,
    EventData,
    OpenData,
    ReadData,
)


class Instruments(Protocol):
    """The metrics the recorder updates as things happen (``edge.faces.metrics.EdgeMetrics``
    provides them; the recorder does not import the face that renders them)."""

    @property
    def decisions(self) -> Counter: ...

    @property
    def open_latency(self) -> Histogram: ...


class Recorder:
    """One per box, shared by its lanes."""

    def __init__(self, db: EdgeDB, outbox: Outbox, cache: RulesCache, ring: EventRing,
                 counters: Counters, evidence: EvidenceStore,
                 notify: Callable[[], None], metrics: Instruments) -> None:
        self.db, self.outbox, self.cache = db, outbox, cache
        self.ring, self.counters, self.evidence = ring, counters, evidence
        self.notify = notify
        self.metrics = metrics

    def _count(self, gate: str, decision: Decision) -> None:
        self.counters.inc(f"decision_{decision.reason.value}")
        self.metrics.decisions.labels(gate, decision.outcome.value, decision.reason.value,
                                      str(decision.credential.kind)).inc()

    def decision_payload(self, site: str, decision: Decision,
                         extra: dict[str, Any] | None = None) -> DecisionData:
        """The ``decision`` event's data (*extra*: the ``visitor``, ``guard`` or ``code`` of
        an open by hand or by code)."""
        cred = decision.credential
        fields: dict[str, Any] = {
            "credential": CredentialRef(kind=str(cred.kind), value=cred.value),
            "outcome": decision.outcome, "reason": decision.reason.value, "vrn": decision.vrn,
            "direction": decision.direction, "detail": decision.detail, **(extra or {})}
        if decision.alerts:
            fields["alerts"] = list(decision.alerts)
        if decision.subscription:
            fields["subscription"] = decision.subscription
        if decision.schedule:
            fields["schedule"] = decision.schedule
        if decision.vrn and (flat := self.cache.flat(site, decision.vrn)):
            fields["flat"] = flat
        return DecisionData(**fields)

    def ignored(self, gate: str, decision: Decision, base: DecisionData, frame_ns: int) -> None:
        """An ignored decision: shown live, never sent."""
        self._count(gate, decision)
        self.ring.add({**self._local(gate, decision.at, frame_ns), "event_id": None,
                       **base.wire()})

    def decision(self, gate: str, decision: Decision, base: DecisionData,
                 read: ReadData | dict[str, Any], frame_ns: int,
                 image: tuple[Any, Any] | None,
                 also: Callable[[sqlite3.Connection, str], None]) -> Event:
        """Record the read and the decision in one transaction with whatever the lane keeps
        of it (``also`` gets the connection and the decision's event id)."""
        self._count(gate, decision)
        seen = read if isinstance(read, ReadData) else ReadData.model_validate(read)
        if image is not None:
            key = f"{gate}-{decision.at:%Y%m%dT%H%M%S%f}"
            base = base.model_copy(update={
                "evidence": self.evidence.save(key, image[0], image[1]),
                "ocr": seen.wire().get("candidates")})
        data = base.wire()
        with self.db.write() as c:
            self.outbox.add(c, gate, EventType.READ, decision.at, seen.wire())
            ev = self.outbox.add(c, gate, EventType.DECISION, decision.at, data)
            also(c, ev.id)
        self.ring.add({**self._local(gate, decision.at, frame_ns), "event_id": ev.id, **data})
        for kind in decision.alerts:
            self.alert(gate, decision.at, AlertData(alert=kind, decision=ev.id,
                                                    vrn=decision.vrn, detail=decision.detail))
        self.notify()
        return ev

    @staticmethod
    def _local(gate: str, at: datetime, frame_ns: int) -> dict[str, Any]:
        return {"type": "decision", "gate": gate, "at": at.isoformat(),
                "decided_mono_ns": time.monotonic_ns(), "decided_wall_ms": time.time() * 1e3,
                "frame_mono_ns": frame_ns}

    def event(self, gate: str, at: datetime, body: EventData,
              also: Callable[[sqlite3.Connection], None] | None = None,
              live: dict[str, Any] | None = None) -> Event:
        """Record one event of *body*'s type (and what the caller writes with it), show it
        live, send it."""
        type_ = TYPE_OF[type(body)]
        data = body.wire()
        if isinstance(body, OpenData) and body.ok and live and live.get("frame_mono_ns"):
            self.metrics.open_latency.labels(gate).observe(
                (live["ack_mono_ns"] - live["frame_mono_ns"]) / 1e9)
        with self.db.write() as c:
            ev = self.outbox.add(c, gate, type_, at, data)
            if also:
                also(c)
        self.ring.add({"type": type_.value, "gate": gate, "at": at.isoformat(),
                       "event_id": ev.id, **(live or {}), **data})
        self.notify()
        return ev

    def alert(self, gate: str, at: datetime, body: AlertData) -> Event:
        """Raise a guard alert: an ``alert`` event for the cloud and a line on the panel."""
        self.counters.inc(f"alert_{body.alert}")
        return self.event(gate, at, body)
