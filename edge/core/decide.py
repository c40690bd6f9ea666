"""The pure gate decision: credential + gate + cache view + now + policy → Decision.

No IO and no clocks: everything arrives as arguments, so the rules are tested as tables.
Order of checks (first match wins): duplicate read, unknown credential, wrong site,
inactive tag, locked tag leaving; a valid tag then goes through fusion with a recent plate
and the gate's credential mode (``edge.core.fusion``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from edge.core.direction import effective_direction
from edge.core.fusion import apply_mode, parking_decision
from edge.core.parking import inside_area
from edge.core.types import CacheView, Credential, Decision, GateInfo, Policy
from shared.vocab import REASON_OUTCOMES, Direction, Reason, TagStatus

__all__ = ["decide", "effective_direction"]


def _decision(reason: Reason, gate: GateInfo, cred: Credential, now: datetime,
              **kw: Any) -> Decision:
    return Decision(REASON_OUTCOMES[reason], reason, gate.id, cred, now, **kw)


def decide(
    credential: Credential,
    gate: GateInfo,
    view: CacheView,
    now: datetime,
    policy: Policy,
) -> Decision:
    """Decide open / deny / ignored for one read, with a reason code."""
    last = view.last_seen(gate.id, credential.key)
    if last is not None and now - last < timedelta(seconds=policy.dedup_hold_s):
        return _decision(Reason.DUPLICATE_READ, gate, credential, now)

    tag = view.tag(credential.value)
    if tag is None:
        return _decision(Reason.UNKNOWN_CREDENTIAL, gate, credential, now)
    parking = view.parking_of(gate.id)
    area = parking[0] if parking else None
    direction = effective_direction(
        gate, inside_area(view.is_inside, area, tag.vrn) if tag.vrn else None)
    common = {"vrn": tag.vrn, "direction": direction}
    if tag.site != gate.site:
        return _decision(
            Reason.WRONG_SITE, gate, credential, now, detail=f"tag of site {tag.site}", **common
        )
    if tag.status is not TagStatus.ACTIVE:
        return _decision(
            Reason.TAG_INACTIVE, gate, credential, now, detail=f"status {tag.status}", **common
        )
    if direction is Direction.EXIT and tag.is_locked(now):
        until = f" until {tag.locked_until.isoformat()}" if tag.locked_until else ""
        return _decision(
            Reason.TAG_LOCKED, gate, credential, now, detail=f"locked{until}", **common
        )
    if parking is not None:
        return parking_decision(credential, gate, view, now, policy, tag.vrn, direction,
                                parking)
    opened = _decision(Reason.TAG_VALID, gate, credential, now, **common)
    return apply_mode(opened, gate, "plate", view, policy)

