"""The parking gate's decision as tables: subscriptions, their times, and who is inside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from edge.core.decide import decide
from edge.core.parking import SubRecord, area_key, decide_parking
from edge.core.types import Credential, GateInfo, Policy, TagRecord
from shared.vocab import Direction, Outcome, Reason, TagStatus
from tests.factories import View

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
CAR, WIFE = "MH12AB1234", "MH12CD5678"
DAY = timedelta(days=1)


def sub(start=NOW - DAY, end=NOW + 9 * DAY, paid_through=None, status="active",
        vrns=(CAR, WIFE), sid="S-1"):
    return SubRecord(sid, "p1", 7, status, "daily", start, end, paid_through or end, False,
                     tuple(vrns))


def verdict(subs, direction=Direction.ENTRY, active=True, inside=(), vrn=CAR, now=NOW):
    keys = {area_key("p1", v) for v in inside}
    return decide_parking(vrn, direction, active, subs, lambda k: k in keys, now, "p1")


@pytest.mark.parametrize(("subs", "direction", "active", "inside", "reason"), [
    ([sub()], Direction.ENTRY, True, (), Reason.SUBSCRIPTION_VALID),
    ([sub()], Direction.ENTRY, False, (), Reason.PARKING_INACTIVE),
    ([], Direction.ENTRY, True, (), Reason.NO_SUBSCRIPTION),
    ([sub(status="archive")], Direction.ENTRY, True, (), Reason.NO_SUBSCRIPTION),
    ([sub(start=NOW + DAY, status="future")], Direction.ENTRY, True, (),
     Reason.SUBSCRIPTION_NOT_STARTED),
    ([sub(end=NOW - timedelta(minutes=1))], Direction.ENTRY, True, (),
     Reason.SUBSCRIPTION_OVERDUE),
    ([sub()], Direction.ENTRY, True, (WIFE,), Reason.SPACE_OCCUPIED),
    ([sub()], Direction.EXIT, True, (CAR,), Reason.SUBSCRIPTION_VALID),
    ([sub()], Direction.EXIT, False, (CAR,), Reason.SUBSCRIPTION_VALID),  # always let out
    ([sub(end=NOW - timedelta(minutes=1))], Direction.EXIT, True, (CAR,), Reason.DEBT_UNPAID),
    # deactivated (or removed) while the car was parked: let out, never kept in
    ([], Direction.EXIT, True, (CAR,), Reason.EXIT_UNSUBSCRIBED),
    ([sub(status="archive")], Direction.EXIT, False, (CAR,), Reason.EXIT_UNSUBSCRIBED),
    ([], Direction.EXIT, True, (), Reason.NO_SUBSCRIPTION),  # not inside: nothing to let out
    # extension: the old one ended, the future one has begun
    ([sub(end=NOW - DAY), sub(start=NOW - DAY, end=NOW + DAY, sid="S-2")], Direction.EXIT,
     True, (CAR,), Reason.SUBSCRIPTION_VALID),
])
def test_parking_table(subs, direction, active, inside, reason):
    assert verdict(subs, direction, active, inside).reason is reason


def test_repaid_may_leave_within_its_window_then_owes_again():
    end = NOW - 3 * DAY
    repaid = sub(end=end, paid_through=NOW - timedelta(hours=2), status="repaid")
    ok = verdict([repaid], Direction.EXIT, inside=(CAR,))
    assert ok.reason is Reason.SUBSCRIPTION_VALID and "debt paid" in ok.detail
    late = verdict([repaid], Direction.EXIT, inside=(CAR,), now=NOW + DAY)
    assert late.reason is Reason.DEBT_UNPAID


def test_offline_gate_turns_an_expired_subscription_overdue_from_its_times():
    """The cached status still says active: the times decide."""
    stale = sub(end=NOW - timedelta(hours=5), status="active")
    assert verdict([stale], Direction.EXIT, inside=(CAR,)).reason is Reason.DEBT_UNPAID


def test_tag_and_plate_at_a_parking_gate_go_through_the_subscription():
    view = View(tags={"E1": TagRecord("E1", "green-acres", TagStatus.ACTIVE, CAR, False, None)},
                parkings={"p-in": ("p1", True)}, subs=[sub(vrns=(CAR,))])
    gate = GateInfo("p-in", "green-acres", Direction.ENTRY)
    d = decide(Credential("tag", "E1"), gate, view, NOW, Policy())
    assert (d.outcome, d.reason, d.subscription) == (Outcome.OPEN, Reason.SUBSCRIPTION_VALID,
                                                     "S-1")
    view.subs = []
    d = decide(Credential("tag", "E1"), gate, view, NOW + timedelta(minutes=1), Policy())
    assert (d.outcome, d.reason) == (Outcome.DENY, Reason.NO_SUBSCRIPTION)
    # presence in the society does not count as being inside the parking
    view.inside = {CAR: True}
    both = GateInfo("p-both", "green-acres", Direction.BOTH)
    view.parkings["p-both"] = ("p1", True)
    view.subs = [sub(vrns=(CAR,))]
    d = decide(Credential("tag", "E1"), both, view, NOW + timedelta(minutes=2), Policy())
    assert d.direction is Direction.ENTRY and d.reason is Reason.SUBSCRIPTION_VALID


def test_a_car_parked_when_its_subscription_was_withdrawn_is_let_out_with_an_alert():
    view = View(tags={"E1": TagRecord("E1", "green-acres", TagStatus.ACTIVE, CAR, False, None)},
                parkings={"p-out": ("p1", True)}, subs=[])
    view.inside = {area_key("p1", CAR): True}
    gate = GateInfo("p-out", "green-acres", Direction.EXIT)
    d = decide(Credential("tag", "E1"), gate, view, NOW, Policy())
    assert (d.outcome, d.reason) == (Outcome.OPEN, Reason.EXIT_UNSUBSCRIBED)
    assert d.alerts == ("exit_unsubscribed",)
    view.inside = {}  # the same car outside, at the exit: nothing to let out
    d = decide(Credential("tag", "E1"), gate, view, NOW, Policy())
    assert (d.outcome, d.reason, d.alerts) == (Outcome.DENY, Reason.NO_SUBSCRIPTION, ())
