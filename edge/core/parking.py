"""The parking gate's decision (pure): a known vehicle → its subscriptions → open or deny.

Runs after the credential checks (tag status and lock, or the plate match) have named a
vehicle. The subscription's status is recomputed from its cached times with
``shared.parking.standing``, so an offline gate still refuses the exit of an expired one.

Entry: ``parking_inactive``; ``no_subscription``; ``subscription_not_started`` (only future
ones); ``subscription_overdue`` (ended: entry refused); ``space_occupied`` (another vehicle
of the same subscription is inside); else ``subscription_valid``.
Exit: ``subscription_valid`` while paid or within a repaid subscription's exit window;
``debt_unpaid`` once it has ended with the vehicle inside; ``exit_unsubscribed`` (open, with an
alert) for a vehicle inside the parking that no longer has a live subscription there, because
it was deactivated or removed while the car was parked (the cloud may not have known it was
inside yet): nobody is kept in by a change they could not know about.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shared.parking import LIVE, standing
from shared.vocab import AlertKind, Direction, Reason


def area_key(parking: str | None, vrn: str) -> str:
    """Presence is kept per area: the site (the plate alone) or a parking (``parking/plate``),
    so entering the society does not count as being inside its parking."""
    return f"{parking}/{vrn}" if parking else vrn


def inside_area(is_inside: Callable[[str], bool | None], parking: str | None,
                vrn: str) -> bool | None:
    """The vehicle's state in the area; a vehicle never seen in a parking is outside it."""
    state = is_inside(area_key(parking, vrn))
    return False if state is None and parking else state


@dataclass(frozen=True, slots=True)
class SubRecord:
    """A cached subscription."""

    id: str
    parking: str
    space: int
    status: str
    unit: str
    start: datetime
    end: datetime
    paid_through: datetime
    continued: bool
    vrns: tuple[str, ...]
    debt_price: int = 0
    schedule: str | None = None  # the schedule entries on it keep to


@dataclass(frozen=True, slots=True)
class ParkingVerdict:
    """The parking's reason, a detail for people, and the subscription it rests on."""

    reason: Reason
    detail: str = ""
    sub: str | None = None
    alert: AlertKind | None = None  # an alert kind staff must see


def decide_parking(vrn: str, direction: Direction, active: bool, subs: list[SubRecord],
                   is_inside: Callable[[str], bool | None], now: datetime,
                   parking: str) -> ParkingVerdict:
    """Whether *vrn* may enter or leave *parking*, whose subscriptions for it are *subs*."""
    live = [s for s in subs if s.status in LIVE]
    leaving = direction is Direction.EXIT
    if not leaving and not active:
        return ParkingVerdict(Reason.PARKING_INACTIVE, "the parking is not active")
    if not live:
        if leaving and inside_area(is_inside, parking, vrn):
            # the alert staff see has the reason's name
            return ParkingVerdict(Reason.EXIT_UNSUBSCRIBED, "inside with no live subscription "
                                  "left: let out", alert=AlertKind.EXIT_UNSUBSCRIBED)
        return ParkingVerdict(Reason.NO_SUBSCRIPTION)
    current = [s for s in live if s.start <= now < s.end]
    if current:
        s = current[0]
        if not leaving:
            others = [v for v in s.vrns if v != vrn and is_inside(area_key(s.parking, v))]
            if others:
                return ParkingVerdict(Reason.SPACE_OCCUPIED, f"{others[0]} is in space "
                                      f"{s.space}", s.id)
        return ParkingVerdict(Reason.SUBSCRIPTION_VALID, f"space {s.space} until "
                              f"{s.end.isoformat(timespec='minutes')}", s.id)
    if all(s.start > now for s in live):
        first = min(live, key=lambda s: s.start)
        return ParkingVerdict(Reason.SUBSCRIPTION_NOT_STARTED,
                              f"starts {first.start.isoformat(timespec='minutes')}", first.id)
    ended = max((s for s in live if s.start <= now), key=lambda s: s.end)
    if not leaving:
        return ParkingVerdict(Reason.SUBSCRIPTION_OVERDUE,
                              f"ended {ended.end.isoformat(timespec='minutes')}", ended.id)
    st = standing(ended.status, ended.start, ended.end, ended.paid_through,  # type: ignore[arg-type]
                  ended.unit, True, now)  # type: ignore[arg-type]
    if st.status == "repaid" and st.exit_until is not None:
        return ParkingVerdict(Reason.SUBSCRIPTION_VALID, "debt paid: leaving by "
                              f"{st.exit_until.isoformat(timespec='minutes')}", ended.id)
    since = st.debt_from or ended.paid_through
    return ParkingVerdict(Reason.DEBT_UNPAID, f"overdue since "
                          f"{since.isoformat(timespec='minutes')}", ended.id)
