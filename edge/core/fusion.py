"""The fusion of tag and plate at one gate, and the kinds a gate accepts (pure).

A gate accepts some credential kinds and may require that they agree (``GateInfo.accepted``,
``must_agree``; today's ``CredentialMode`` tag, plate, either and both are shorthands).
Whichever credential comes second within ``fusion_window_s`` is checked against the first:
two credentials naming different vehicles is ``credential_mismatch`` (a tag moved to another
car is the classic fraud), denied, or let through with an alert where the gate's policy says
``alert``. The lane forgets the first credential once its vehicle has passed
(``edge.core.lane``), so the next car is never paired with the last one's reads.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from edge.core.types import CacheView, Decision, GateInfo, Policy
from shared.vocab import AlertKind, Outcome, Reason

MISMATCH = AlertKind.CREDENTIAL_MISMATCH


def fuse(decision: Decision, other_kind: str, view: CacheView, policy: Policy) -> Decision:
    """Check a valid decision against the gate's recent credential of the other kind."""
    if decision.outcome is not Outcome.OPEN:
        return decision
    recent = view.recent(decision.gate, other_kind)
    window = timedelta(seconds=policy.fusion_window_s)
    fresh = recent is not None and decision.at - recent.at <= window
    if fresh and recent is not None and recent.vrn != decision.vrn:
        return replace(decision, outcome=Outcome.DENY, reason=Reason.CREDENTIAL_MISMATCH,
                       subscription=None, alerts=(*decision.alerts, MISMATCH),
                       detail=f"{other_kind} of {recent.vrn or 'an unknown vehicle'} read "
                       f"{(decision.at - recent.at).total_seconds():.1f} s before")
    return decision


def apply_mode(decision: Decision, gate: GateInfo, other_kind: str, view: CacheView,
               policy: Policy) -> Decision:
    """Fusion, then the kinds the gate accepts and whether they must agree; a mismatch at an
    ``alert`` gate still opens."""
    own = decision.credential.kind
    accepted = gate.accepted()
    if own not in accepted and decision.outcome is Outcome.OPEN:
        kinds = " or a ".join(sorted(accepted))
        return replace(decision, outcome=Outcome.IGNORED, reason=Reason.CREDENTIAL_PENDING,
                       detail=f"this gate opens on a {kinds} only")
    fused = fuse(decision, other_kind, view, policy)
    if fused.reason is Reason.CREDENTIAL_MISMATCH and gate.mismatch == "alert":
        return replace(decision, detail=f"alert: {MISMATCH}: {fused.detail}",
                       alerts=fused.alerts)
    if fused.outcome is not Outcome.OPEN or not gate.must_agree():
        return fused
    window = timedelta(seconds=policy.fusion_window_s)
    for kind in sorted(accepted - {own}):
        recent = view.recent(gate.id, kind)
        if recent is None or recent.vrn != decision.vrn or decision.at - recent.at > window:
            return replace(decision, outcome=Outcome.IGNORED, reason=Reason.CREDENTIAL_PENDING,
                           detail=f"waiting for the {kind}")
    return fused
