"""Plate decisions and the fusion of tag and plate at one gate (pure).

A gate needs a tag, a plate, either, or both (``CredentialMode``). Whichever credential comes
second within ``fusion_window_s`` is checked against the first: two credentials naming
different vehicles is ``credential_mismatch`` (a tag moved to another car is the classic
fraud), denied, or let through with an alert where the gate's policy says ``alert``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from edge.core.direction import effective_direction
from edge.core.parking import decide_parking, inside_area
from edge.core.plate_match import agree
from edge.core.types import (
    CacheView,
    Credential,
    Decision,
    GateInfo,
    PlateEvidence,
    Policy,
)
from shared.vocab import REASON_OUTCOMES, CredentialMode, Direction, Outcome, Reason, TagStatus


def _d(reason: Reason, gate: GateInfo, cred: Credential, now: datetime, **kw: object) -> Decision:
    return Decision(REASON_OUTCOMES[reason], reason, gate.id, cred, now, **kw)  # type: ignore[arg-type]


def fuse(decision: Decision, other_kind: str, view: CacheView, policy: Policy) -> Decision:
    """Check a valid decision against the gate's recent credential of the other kind."""
    if decision.outcome is not Outcome.OPEN:
        return decision
    recent = view.recent(decision.gate, other_kind)
    window = timedelta(seconds=policy.fusion_window_s)
    fresh = recent is not None and decision.at - recent.at <= window
    if fresh and recent is not None and recent.vrn != decision.vrn:
        return Decision(Outcome.DENY, Reason.CREDENTIAL_MISMATCH, decision.gate,
                        decision.credential, decision.at, decision.vrn, decision.direction,
                        f"{other_kind} of {recent.vrn or 'an unknown vehicle'} read "
                        f"{(decision.at - recent.at).total_seconds():.1f} s before")
    return decision


def apply_mode(decision: Decision, gate: GateInfo, other_kind: str, view: CacheView,
               policy: Policy) -> Decision:
    """Fusion, then the gate's credential mode; a mismatch at an ``alert`` gate still opens."""
    own = decision.credential.kind
    if gate.credentials in (CredentialMode.TAG, CredentialMode.PLATE) and \
            gate.credentials.value != own and decision.outcome is Outcome.OPEN:
        return Decision(Outcome.IGNORED, Reason.CREDENTIAL_PENDING, decision.gate,
                        decision.credential, decision.at, decision.vrn, decision.direction,
                        f"this gate opens on a {gate.credentials.value} only")
    fused = fuse(decision, other_kind, view, policy)
    if fused.reason is Reason.CREDENTIAL_MISMATCH and gate.mismatch == "alert":
        return Decision(Outcome.OPEN, decision.reason, decision.gate, decision.credential,
                        decision.at, decision.vrn, decision.direction,
                        f"alert: credential_mismatch: {fused.detail}")
    if fused.outcome is not Outcome.OPEN or gate.credentials is not CredentialMode.BOTH:
        return fused
    recent = view.recent(gate.id, other_kind)
    agreed = (recent is not None and recent.vrn == decision.vrn
              and decision.at - recent.at <= timedelta(seconds=policy.fusion_window_s))
    if agreed:
        return fused
    return Decision(Outcome.IGNORED, Reason.CREDENTIAL_PENDING, decision.gate,
                    decision.credential, decision.at, decision.vrn, decision.direction,
                    f"waiting for the {other_kind}")


def decide_plate(evidence: PlateEvidence, gate: GateInfo, view: CacheView, now: datetime,
                 policy: Policy) -> Decision:
    """Decide on what a camera read, with the same rules a tag gets."""
    best_text, _ = evidence.best
    match = agree(evidence.candidates, view.plate_index(gate.site), policy.plate_min_score)
    cred = Credential("plate", match.plate or best_text)
    last = view.last_seen(gate.id, cred.key)
    if last is not None and now - last < timedelta(seconds=policy.dedup_hold_s):
        return _d(Reason.DUPLICATE_READ, gate, cred, now)
    if not any(score >= policy.plate_min_score for _, score in evidence.candidates):
        return _d(Reason.LOW_CONFIDENCE, gate, cred, now,
                  detail=f"best {best_text} scored {evidence.best[1]:.2f}")
    if match.kind == "ambiguous":
        return _d(Reason.PLATE_AMBIGUOUS, gate, cred, now,
                  detail="could be " + " or ".join(match.candidates))
    if match.plate is None:
        return _d(Reason.UNKNOWN_CREDENTIAL, gate, cred, now)
    vrn = match.plate
    parking = view.parking_of(gate.id)
    direction = effective_direction(gate, inside_area(
        view.is_inside, parking[0] if parking else None, vrn))
    if parking is not None:
        return parking_decision(cred, gate, view, now, policy, vrn, direction, parking)
    tags = [t for t in view.vehicle_tags(vrn) if t.site == gate.site]
    active = [t for t in tags if t.status is TagStatus.ACTIVE]
    common = {"vrn": vrn, "direction": direction}
    if not active:
        return _d(Reason.TAG_INACTIVE, gate, cred, now, detail="no active tag for this vehicle",
                  **common)
    if direction is Direction.EXIT and any(t.is_locked(now) for t in active):
        return _d(Reason.TAG_LOCKED, gate, cred, now, detail="locked", **common)
    detail = "look-alike match" if match.kind == "lookalike" else ""
    opened = _d(Reason.PLATE_VALID, gate, cred, now, detail=detail, **common)
    return apply_mode(opened, gate, "tag", view, policy)


def parking_decision(credential: Credential, gate: GateInfo, view: CacheView, now: datetime,
                     policy: Policy, vrn: str | None, direction: Direction,
                     parking: tuple[str, bool]) -> Decision:
    """A named vehicle at a parking barrier: its subscriptions decide (``edge.core.parking``)."""
    pid, active = parking
    subs = view.subscriptions(pid, vrn) if vrn else []
    verdict = decide_parking(vrn or "", direction, active, subs, view.is_inside, now)
    d = _d(verdict.reason, gate, credential, now, vrn=vrn, direction=direction,
           detail=verdict.detail, subscription=verdict.sub)
    return apply_mode(d, gate, "tag" if credential.kind == "plate" else "plate", view, policy)
