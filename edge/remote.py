"""Opens that no credential asked for: signed commands from the cloud (verified and re-checked
locally) and the guard's override at the panel."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from edge.core.direction import effective_direction
from edge.core.parking import decide_parking, inside_area
from edge.core.types import Credential, Decision
from shared.commands import verify
from shared.contract import CommandResponse
from shared.vocab import REASON_OUTCOMES, Direction, EventType, Reason, TagStatus

if TYPE_CHECKING:
    from edge.daemon import EdgeDaemon


def handle_command(daemon: EdgeDaemon, cmd: dict[str, Any], retained: bool) -> CommandResponse:
    """Verify a signed command, re-check local policy, act, and say what happened."""
    assert daemon.cache
    cid = str(cmd.get("id"))
    gate = daemon.gates.get(str(cmd.get("gate")))
    if gate is None:
        return CommandResponse(transaction=cid, status="error", error="unknown gate")
    now = daemon.clock.now()
    key = daemon.cache.gate_key(gate.cfg.site, gate.cfg.id)
    verdict = verify(cmd, key, now, seen=daemon.cache.seen_command(cid), retained=retained)
    vrn = cmd.get("vrn") or None
    cause = verdict.cause
    if verdict.ok and not daemon.cache.remember_command(cid, now):
        cause = "replayed"
    view = daemon._view
    parking = view.parking_of(gate.cfg.id) if view else None
    if not cause and parking is not None and view is not None:
        pid, active, plate = *parking, vrn or ""
        direction = effective_direction(gate.info, inside_area(view.is_inside, pid, plate))
        ruling = decide_parking(plate, direction, active, view.subscriptions(pid, plate),
                                view.is_inside, now)
        if ruling.reason is not Reason.SUBSCRIPTION_VALID:
            cause = ruling.reason.value
    elif not cause and vrn:
        tags = [t for t in daemon.cache.tags_of(vrn)
                if t.site == gate.cfg.site and t.status is TagStatus.ACTIVE]
        leaving = effective_direction(
            gate.info, daemon.presence.is_inside(vrn) if daemon.presence else None
        ) is Direction.EXIT
        if not tags:
            cause = "no active tag for this vehicle at the edge"
        elif leaving and any(t.is_locked(now) for t in tags):
            cause = "the vehicle is locked"
    reason = Reason.COMMAND_REJECTED if cause else Reason.REMOTE_OPEN
    decision = Decision(REASON_OUTCOMES[reason], reason, gate.cfg.id,
                        Credential("command", cid), now, vrn, None,
                        cause or f"by {cmd.get('by') or 'cloud'}")
    daemon.counters[f"command_{cause or 'accepted'}"] += 1
    daemon._act(gate.cfg.id, decision, now, time.monotonic_ns(), {
        "credential": {"kind": "command", "value": cid},
        "command": {"by": cmd.get("by"), "issued_at": cmd.get("issued_at"),
                    "retained": retained}})
    data = {"outcome": decision.outcome.value, "reason": reason.value, "cause": cause}
    return CommandResponse(transaction=cid, status="error" if cause else "ok", data=data,
                           error=cause or None)


def guard_open(daemon: EdgeDaemon, gate_id: str, user: str, role: str, reason: str,
               vrn: str | None = None) -> Decision:
    """The guard's judgement overrides the automation: open, and record who and why."""
    if gate_id not in daemon.gates:
        raise KeyError(gate_id)
    now = daemon.clock.now()
    why = reason.strip()[:200]
    decision = Decision(REASON_OUTCOMES[Reason.GUARD_OVERRIDE], Reason.GUARD_OVERRIDE, gate_id,
                        Credential("guard", user), now, vrn or None, None, why)
    daemon.counters["guard_overrides"] += 1
    guard = {"user": user, "role": role, "reason": why}
    return daemon._act(gate_id, decision, now, time.monotonic_ns(),
                       {"credential": {"kind": "guard", "value": user}, "guard": guard},
                       extra={"guard": guard})


def correct_presence(daemon: EdgeDaemon, site: str, vrn: str, inside: bool, user: str) -> None:
    """A supervisor puts a vehicle inside or outside by hand; the cloud hears of it (as a
    ``presence`` event of the site's first gate on this box)."""
    assert daemon.db and daemon.outbox and daemon.presence
    now = daemon.clock.now()
    gate_id = next(g.cfg.id for g in daemon.gates.values() if g.cfg.site == site)
    data = {"vrn": vrn, "inside": inside, "by": user,
            "was": daemon.presence.is_inside(vrn)}
    with daemon.db.write() as c:
        ev = daemon.outbox.add(c, gate_id, EventType.PRESENCE, now, data)
        daemon.presence.set(c, vrn, inside, now)
    daemon.ring.add({"type": "presence", "gate": gate_id, "at": now.isoformat(),
                     "event_id": ev.id, **data})
    if daemon.link:
        daemon.link.notify()
