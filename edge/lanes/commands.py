"""Opens that no credential asked for: signed commands from the cloud (verified and re-checked
locally) and the guard's override at the panel; and a supervisor's correction of presence.
Pure of threads: the lane that owns the gate calls these and records what they decide."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from edge.core.direction import effective_direction
from edge.core.parking import decide_parking, inside_area
from edge.core.types import Credential, Decision, GateInfo
from shared.commands import verify
from shared.locks import refusing_lock
from shared.vocab import REASON_OUTCOMES, CredentialKind, Direction, Reason, TagStatus
from shared.wire.commands import OpenCommand
from shared.wire.events import PresenceData

if TYPE_CHECKING:
    from edge.lanes.recorder import Recorder
    from edge.lanes.view import LaneView
    from edge.store.cache import Presence, RulesCache


def command_decision(cmd: OpenCommand, retained: bool, gate: GateInfo, cache: RulesCache,
                     view: LaneView, presence: Presence,
                     now: datetime) -> tuple[Decision, str, dict[str, Any]]:
    """Verify a signed command and re-check local policy: the decision, the refusal's cause
    ('' when accepted) and the read to record."""
    cid = cmd.id
    key = cache.gate_key(gate.site, gate.id)
    verdict = verify(cmd, key, now, seen=cache.seen_command(cid), retained=retained)
    vrn = cmd.vrn or None
    cause = verdict.cause
    if verdict.ok and not cache.remember_command(cid, now):
        cause = "replayed"
    parking = view.parking_of(gate.id)
    if not cause and parking is not None:
        pid, active, plate = *parking, vrn or ""
        direction = effective_direction(gate, inside_area(view.is_inside, pid, plate))
        ruling = decide_parking(plate, direction, active, view.subscriptions(pid, plate),
                                view.is_inside, now, pid)
        if ruling.reason not in (Reason.SUBSCRIPTION_VALID, Reason.EXIT_UNSUBSCRIBED):
            cause = ruling.reason.value
    elif not cause and vrn:
        tags = [t for t in cache.tags_of(vrn)
                if t.site == gate.site and t.status is TagStatus.ACTIVE]
        leaving = effective_direction(gate, presence.is_inside(vrn)) is Direction.EXIT
        if not tags:
            cause = "no active tag for this vehicle at the edge"
        elif refusing_lock(leaving, ((t.locked, t.locked_until) for t in tags), now):
            cause = "the vehicle is locked"
    reason = Reason.COMMAND_REJECTED if cause else Reason.REMOTE_OPEN
    decision = Decision(REASON_OUTCOMES[reason], reason, gate.id,
                        Credential(CredentialKind.COMMAND, cid), now, vrn, None,
                        cause or f"by {cmd.by or 'cloud'}")
    sent = cmd.wire()  # as it came: a field it did not carry is recorded as null
    read = {"credential": {"kind": "command", "value": cid},
            "command": {"by": sent.get("by"), "issued_at": sent.get("issued_at"),
                        "retained": retained}}
    return decision, cause or "", read


def guard_decision(gate_id: str, user: str, role: str, reason: str, vrn: str | None,
                   now: datetime) -> tuple[Decision, dict[str, Any], dict[str, Any]]:
    """The guard's judgement overrides the automation: open, and record who and why."""
    why = reason.strip()[:200]
    decision = Decision(REASON_OUTCOMES[Reason.GUARD_OVERRIDE], Reason.GUARD_OVERRIDE, gate_id,
                        Credential(CredentialKind.GUARD, user), now, vrn or None, None, why)
    guard = {"user": user, "role": role, "reason": why}
    return decision, {"credential": {"kind": "guard", "value": user}, "guard": guard}, \
        {"guard": guard}


def correct_presence(recorder: Recorder, presence: Presence, gate_id: str, vrn: str,
                     inside: bool, user: str, now: datetime) -> None:
    """A supervisor puts a vehicle inside or outside by hand; the cloud hears of it as a
    ``presence`` event of *gate_id* (the site's first gate on this box). The caller has the
    site's lanes decide again whatever waits at them."""
    data = PresenceData(vrn=vrn, inside=inside, by=user, was=presence.is_inside(vrn))
    recorder.event(gate_id, now, data,
                   also=lambda c: presence.set(c, vrn, inside, now))
