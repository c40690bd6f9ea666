"""One resolver per credential kind (pure): a credential → the vehicle it names, or a refusal.

A resolver answers only what is particular to its kind: whether a tag is known, of this site
and active; whether a plate read is confident, unambiguous and of a registered vehicle. What
happens next (the lock rule, the parking's subscriptions, anti-passback, the gate's credential
mode and fusion) is the same for every kind and lives in ``edge.core.decide``. A new kind (the
access codes) adds a resolver here, not another copy of the decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge.core.direction import effective_direction
from edge.core.parking import inside_area
from edge.core.plate_match import agree
from edge.core.types import CacheView, Credential, Decision, GateInfo, Policy
from shared.codes import normalise
from shared.vocab import REASON_OUTCOMES, CredentialKind, Reason, TagStatus


@dataclass(frozen=True, slots=True)
class Named:
    """A credential that names a vehicle of the gate's site."""

    credential: Credential
    vrn: str | None
    valid: Reason  # the reason an open carries: tag_valid, plate_valid…
    locks: tuple[tuple[bool, datetime | None], ...]  # (locked, until) of the vehicle's tags
    partner: CredentialKind | None  # the kind fused with this one at the gate
    detail: str = ""
    # The schedules of the credential's tags (``edge.core.schedules``); None: not read yet.
    schedules: tuple[str, ...] | None = ()


Resolver = Callable[[Credential, GateInfo, CacheView, datetime, Policy], "Decision | Named"]


def refuse(reason: Reason, gate: GateInfo, cred: Credential, now: datetime,
           **kw: Any) -> Decision:
    """A decision with the outcome its reason implies."""
    return Decision(REASON_OUTCOMES[reason], reason, gate.id, cred, now, **kw)


def resolve_tag(cred: Credential, gate: GateInfo, view: CacheView, now: datetime,
                policy: Policy) -> Decision | Named:
    """A tag: known, of this site, active."""
    tag = view.tag(cred.value)
    if tag is None:
        return refuse(Reason.UNKNOWN_CREDENTIAL, gate, cred, now)
    if tag.site != gate.site or tag.status is not TagStatus.ACTIVE:
        parking = view.parking_of(gate.id)
        inside = inside_area(view.is_inside, parking[0] if parking else None,
                             tag.vrn) if tag.vrn else None
        common = {"vrn": tag.vrn, "direction": effective_direction(gate, inside)}
        if tag.site != gate.site:
            return refuse(Reason.WRONG_SITE, gate, cred, now, detail=f"tag of site {tag.site}",
                          **common)
        return refuse(Reason.TAG_INACTIVE, gate, cred, now, detail=f"status {tag.status}",
                      **common)
    return Named(cred, tag.vrn, Reason.TAG_VALID, ((tag.locked, tag.locked_until),),
                 CredentialKind.PLATE, schedules=(tag.schedule,) if tag.schedule else ())


def resolve_plate(cred: Credential, gate: GateInfo, view: CacheView, now: datetime,
                  policy: Policy) -> Decision | Named:
    """A plate read: confident, unambiguous, registered; at a society gate the vehicle also
    needs an active tag of the site (the tag is its membership)."""
    evidence = cred.evidence
    if evidence is None:
        raise ValueError("a plate credential carries the camera's evidence")
    best_text, best_score = evidence.best
    match = agree(evidence.candidates, view.plate_index(gate.site), policy.plate_min_score)
    cred = Credential(CredentialKind.PLATE, match.plate or best_text, evidence)
    if not any(score >= policy.plate_min_score for _, score in evidence.candidates):
        return refuse(Reason.LOW_CONFIDENCE, gate, cred, now,
                      detail=f"best {best_text} scored {best_score:.2f}")
    if match.kind == "ambiguous":
        return refuse(Reason.PLATE_AMBIGUOUS, gate, cred, now,
                      detail="could be " + " or ".join(match.candidates))
    if match.plate is None:
        return refuse(Reason.UNKNOWN_CREDENTIAL, gate, cred, now)
    vrn = match.plate
    detail = "look-alike match" if match.kind == "lookalike" else ""
    parking = view.parking_of(gate.id)
    if parking is not None:  # a parking's subscriptions name its vehicles; its tags: if needed
        return Named(cred, vrn, Reason.PLATE_VALID, (), CredentialKind.TAG, detail, None)
    active = [t for t in view.vehicle_tags(vrn)
              if t.site == gate.site and t.status is TagStatus.ACTIVE]
    if not active:
        inside = view.is_inside(vrn)
        return refuse(Reason.TAG_INACTIVE, gate, cred, now, vrn=vrn,
                      direction=effective_direction(gate, inside),
                      detail="no active tag for this vehicle")
    return Named(cred, vrn, Reason.PLATE_VALID,
                 tuple((t.locked, t.locked_until) for t in active), CredentialKind.TAG, detail,
                 tuple(t.schedule for t in active if t.schedule))


def resolve_code(cred: Credential, gate: GateInfo, view: CacheView, now: datetime,
                 policy: Policy) -> Decision | Named:
    """A code (typed, scanned or told to the guard): read in the site's alphabet, hashed by the
    site's key (``code_key_missing`` while the box lacks the pepper the cloud gives after a
    start) and looked up, and within its life: activated (or activated by this first use, where
    the site says so, before its activation deadline), started, not ended, not cancelled, not
    spent. The decision carries the hash, never the code."""
    settings = view.code_settings(gate.site)
    if settings is None:  # the code typed is never kept, here either
        return refuse(Reason.CODE_UNKNOWN, gate, Credential(CredentialKind.CODE, ""), now,
                      detail="this site has no codes")
    try:
        typed = normalise(cred.value, settings.alphabet)  # type: ignore[arg-type]
    except ValueError as exc:
        masked = Credential(CredentialKind.CODE, "")
        return refuse(Reason.CODE_UNKNOWN, gate, masked, now, detail=str(exc))
    if settings.key is None:
        return refuse(Reason.CODE_KEY_MISSING, gate, Credential(CredentialKind.CODE, ""), now,
                      detail="the box has not had the site's code key from the cloud since it "
                      "started: codes are decided again once the link is back")
    cred = Credential(CredentialKind.CODE, settings.key.digest(typed))
    code = view.code(gate.site, cred.value)
    if code is None:
        return refuse(Reason.CODE_UNKNOWN, gate, cred, now)
    common = {"vrn": code.vrn, "direction": effective_direction(gate, None)}
    detail = code.label
    if code.status == "cancelled":
        return refuse(Reason.CODE_CANCELLED, gate, cred, now, detail=detail, **common)
    if code.status == "spent" or code.spent:
        return refuse(Reason.CODE_SPENT, gate, cred, now, detail=f"{detail}: used already",
                      **common)
    if code.status == "expired" or (code.valid_until is not None and now >= code.valid_until):
        return refuse(Reason.CODE_EXPIRED, gate, cred, now, detail=detail, **common)
    if code.status == "issued":
        if not settings.first_use_activates or (code.activate_by is not None
                                                and now > code.activate_by):
            return refuse(Reason.CODE_NOT_ACTIVE, gate, cred, now,
                          detail=f"{detail}: not activated", **common)
        detail = f"{detail}: activated by this first use".lstrip(": ")
    if code.valid_from is not None and now < code.valid_from:
        return refuse(Reason.CODE_NOT_ACTIVE, gate, cred, now,
                      detail=f"{detail}: valid from {code.valid_from.isoformat()}", **common)
    return Named(cred, code.vrn, Reason.CODE_VALID, (), None, detail,
                 (code.schedule,) if code.schedule else ())


RESOLVERS: dict[CredentialKind, Resolver] = {
    CredentialKind.TAG: resolve_tag,
    CredentialKind.PLATE: resolve_plate,
    CredentialKind.CODE: resolve_code,
}
