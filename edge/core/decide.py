"""The pure gate decision: credential + gate + cache view + now + policy → Decision.

No IO and no clocks: everything arrives as arguments, so the rules are tested as tables.
Order of checks (first match wins): the credential's own resolver (``edge.core.credentials``:
unknown, wrong site, inactive; for plates low confidence and ambiguity), then for the vehicle
it names, whatever its kind: the lock rule (``shared.locks``), the parking's subscriptions
(``edge.core.parking``), the schedules of an entry (``edge.core.schedules``), anti-passback,
and the gate's credential mode with fusion (``edge.core.fusion``). Duplicate reads are the
lane's business (``edge.core.lane``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from edge.core.credentials import RESOLVERS, Named, refuse
from edge.core.direction import effective_direction
from edge.core.fusion import apply_mode
from edge.core.parking import area_key, decide_parking
from edge.core.schedules import keep_to
from edge.core.types import CacheView, Credential, Decision, GateInfo, PlateEvidence, Policy
from shared.locks import refusing_lock
from shared.vocab import REASON_OUTCOMES, AlertKind, AntiPassback, Direction, Reason

__all__ = ["decide", "decide_plate", "effective_direction", "passback"]


def decide(
    credential: Credential,
    gate: GateInfo,
    view: CacheView,
    now: datetime,
    policy: Policy,
) -> Decision:
    """Decide open / deny / ignored for one credential, with a reason code."""
    resolver = RESOLVERS.get(credential.kind)
    if resolver is None:
        raise ValueError(f"no resolver for credentials of kind {credential.kind}")
    named = resolver(credential, gate, view, now, policy)
    if isinstance(named, Decision):
        return named
    return vehicle_decision(named, gate, view, now, policy)


def decide_plate(evidence: PlateEvidence, gate: GateInfo, view: CacheView, now: datetime,
                 policy: Policy) -> Decision:
    """Decide on what a camera read: ``decide`` with a plate credential."""
    return decide(Credential.plate(evidence), gate, view, now, policy)


def vehicle_decision(named: Named, gate: GateInfo, view: CacheView, now: datetime,
                     policy: Policy) -> Decision:
    """What the gate does with the vehicle a credential named, whatever the credential."""
    cred, vrn = named.credential, named.vrn
    parking = view.parking_of(gate.id)
    pid = parking[0] if parking else None
    known = view.is_inside(area_key(pid, vrn)) if vrn else None
    inside = False if known is None and pid and vrn else known
    direction = effective_direction(gate, inside)
    common = {"vrn": vrn, "direction": direction}
    lock = refusing_lock(direction is Direction.EXIT, named.locks, now)
    if lock is not None:
        until = f" until {lock[1].isoformat()}" if lock[1] else ""
        return refuse(Reason.TAG_LOCKED, gate, cred, now, detail=f"locked{until}", **common)
    sub_schedule = None
    if parking is not None:
        subs = view.subscriptions(parking[0], vrn) if vrn else []
        verdict = decide_parking(vrn or "", direction, parking[1], subs, view.is_inside, now,
                                 parking[0])
        decision = refuse(verdict.reason, gate, cred, now, detail=verdict.detail,
                          subscription=verdict.sub, **common)
        if verdict.alert:
            decision = replace(decision, alerts=(*decision.alerts, verdict.alert))
        sub_schedule = next((s.schedule for s in subs if s.id == verdict.sub), None)
    else:
        decision = refuse(named.valid, gate, cred, now, detail=named.detail, **common)
    decision = keep_to(decision, gate.site, vrn, named.schedules, sub_schedule, view, now)
    decision = passback(decision, gate.anti_passback, known)
    if named.partner is None:
        return decision
    return apply_mode(decision, gate, named.partner, view, policy)


def passback(decision: Decision, mode: AntiPassback, inside: bool | None) -> Decision:
    """Anti-passback: an open for a vehicle that is already where it asks to go (entering
    while inside, leaving while outside, as loop-confirmed passes left it) is refused at a
    ``hard`` gate and opens with an ``anti_passback`` alert at a ``soft`` one. A vehicle of
    unknown state, and an entry-exit gate (which infers the way from that state), never are."""
    if mode is AntiPassback.OFF or not decision.opens or inside is None:
        return decision
    if decision.direction is Direction.ENTRY and inside:
        detail = "already inside: no exit since its last entry"
    elif decision.direction is Direction.EXIT and not inside:
        detail = "already outside: no entry since its last exit"
    else:
        return decision
    if mode is AntiPassback.HARD:
        return replace(decision, outcome=REASON_OUTCOMES[Reason.ANTI_PASSBACK],
                       reason=Reason.ANTI_PASSBACK, detail=detail)
    return replace(decision, detail=detail, alerts=(*decision.alerts, AlertKind.ANTI_PASSBACK))
