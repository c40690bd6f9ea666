"""What a walk-in visitor's open is, and the guard marking a visitor as gone: pure of
threads, called by the gate's lane (the open) and by the daemon (the exit). The cloud is
asked through the walk-in client (``edge.adapters.walkins``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from edge.core.types import Credential, Decision
from edge.lanes.recorder import Recorder
from edge.store import visitors as store
from edge.store.db import EdgeDB
from shared.vocab import REASON_OUTCOMES, CredentialKind, Direction, Reason
from shared.wire.events import PresenceData


def walkin_decision(gate: str, site: str, req: dict[str, Any], user: str, role: str,
                    now: datetime) -> tuple[Decision, dict[str, Any], dict[str, Any],
                                            store.Inside]:
    """The open for an approved walk-in: the decision, its read and extra data, and the
    visitor now inside."""
    visitor = {"request": req["id"], "name": req["name"], "kind": req["kind"],
               "flat": req["flat"], "approved_by": req["answered_by"],
               "approved_name": req["answered_name"]}
    decision = Decision(REASON_OUTCOMES[Reason.VISITOR_APPROVED], Reason.VISITOR_APPROVED,
                        gate, Credential(CredentialKind.GUARD, user), now, req.get("vrn"),
                        Direction.ENTRY, f"{req['name']} for {req['flat']}, approved by "
                        f"{req['answered_name']}")
    guard = {"user": user, "role": role, "reason": "visitor approved by the flat"}
    inside = store.Inside(f"walkin:{req['id']}", site, f"{req['kind']}: {req['name']}",
                          req["flat"], req.get("vrn"), gate, "approved", now)
    return decision, {"credential": {"kind": "guard", "value": user}, "visitor": visitor}, \
        {"visitor": visitor, "guard": guard}, inside


def visitor_left(db: EdgeDB, recorder: Recorder, key: str, user: str, now: datetime) -> bool:
    """The guard marks a visitor as gone; the cloud hears of it as a ``presence`` event of
    the gate the visitor came in by. False if the visitor was not inside."""
    who = store.get(db.conn, key)
    if who is None:
        return False
    data = PresenceData(visitor=key, label=who.label, flat=who.flat, inside=False, by=user)

    def gone(c: Any) -> None:
        store.went_out(c, key)

    recorder.event(who.gate, now, data, also=gone)
    return True
