"""The lane's rules (pure tables): hold and re-decision, the vehicle's window, confirmation,
anti-passback, and the lock rule shared by edge and cloud."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from edge.core.decide import decide, passback
from edge.core.lane import (
    Confirmations,
    Held,
    Window,
    closed,
    due,
    held_of,
    holds,
    note,
    opened_already,
    passed,
    unchanged,
)
from edge.core.types import Credential, Decision, GateInfo, Policy
from shared.locks import is_locked, refusing_lock
from shared.vocab import AntiPassback, Direction, Outcome, Reason
from tests.factories import EPC, IN, NOW, OUT, View, tag

P = Policy(dedup_hold_s=5.0, redecide_s=3.0)
KEY = f"tag:{EPC}"


def held(outcome=Outcome.DENY, reason=Reason.TAG_LOCKED, decided_ago=0.0, seen_ago=0.0,
         stamp=1) -> Held:
    return Held(KEY, outcome, reason, "MH12AB1234", NOW - timedelta(seconds=decided_ago),
                NOW - timedelta(seconds=seen_ago), stamp)


@pytest.mark.parametrize(("name", "h", "stamp", "holds_", "due_"), [
    ("never seen: decide", None, 1, False, None),
    ("opened, still in the field: duplicate", held(Outcome.OPEN, Reason.TAG_VALID, 60, 1), 1,
     True, False),
    ("opened, out of the field for the hold: decide", held(Outcome.OPEN, Reason.TAG_VALID, 60,
                                                           5.0), 1, False, False),
    ("refused just now: duplicate", held(decided_ago=1, seen_ago=0.2), 1, True, False),
    ("refused 3 s ago, still there: decided again", held(decided_ago=3, seen_ago=0.2), 1,
     False, True),
    ("refused, rules changed since: decided again at once", held(decided_ago=0.5), 2, False,
     True),
    ("restored after a restart (no stamp): the interval decides", held(decided_ago=1, stamp=0),
     5, True, False),
    ("pending (waiting for the plate) is decided again too",
     held(Outcome.IGNORED, Reason.CREDENTIAL_PENDING, 3.5, 0.1), 1, False, True),
    ("refused and gone: neither", held(decided_ago=9, seen_ago=6), 2, False, False),
])
def test_hold_and_redecision(name, h, stamp, holds_, due_):
    assert holds(h, NOW, P, stamp) is holds_
    if due_ is not None:
        assert due(h, NOW, P, stamp) is due_


def test_a_redecision_that_says_the_same_is_not_recorded_again():
    h = held()
    same = Decision(Outcome.DENY, Reason.TAG_LOCKED, "main-out", Credential.tag(EPC), NOW)
    now_open = replace(same, outcome=Outcome.OPEN, reason=Reason.TAG_VALID)
    assert unchanged(h, same, NOW, P)
    assert not unchanged(h, now_open, NOW, P)
    assert not unchanged(held(seen_ago=10), same, NOW, P)


def _opened(vrn="MH12AB1234", kind="tag") -> Decision:
    cred = Credential.tag(EPC) if kind == "tag" else Credential("plate", vrn)  # type: ignore[arg-type]
    return Decision(Outcome.OPEN, Reason.TAG_VALID, "g", cred, NOW, vrn, Direction.ENTRY)


def test_the_window_pairs_one_vehicle_and_a_pass_ends_it():
    w = note(Window(), _opened())
    assert w.of("tag") is not None and w.of("tag").vrn == "MH12AB1234"
    assert opened_already(w, _opened(kind="plate"), P)  # the plate of the car let through
    assert not opened_already(w, _opened("MH14CD5678"), P)
    later = replace(_opened(kind="plate"), at=NOW + timedelta(seconds=5))
    assert not opened_already(w, later, P)  # past the hold: another visit
    after = passed(w)
    assert after.of("tag") is None and not opened_already(after, _opened(), P)
    down = closed(w)  # the boom came down with nobody through: the next open is its own
    assert down.of("tag") is not None and not opened_already(down, _opened(kind="plate"), P)


def test_a_remote_or_guard_open_does_not_make_the_cars_own_tag_a_duplicate():
    remote = replace(_opened(), credential=Credential("command", "c1"))  # type: ignore[arg-type]
    w = note(Window(), remote)
    assert not opened_already(w, _opened(), P)


def test_a_duplicate_changes_nothing_in_the_window():
    dup = replace(_opened("MH14CD5678"), outcome=Outcome.IGNORED, reason=Reason.DUPLICATE_READ)
    assert note(Window(), dup) == Window()


def test_held_of_keeps_the_decision():
    h = held_of(_opened(), NOW, 7)
    assert (h.key, h.outcome, h.stamp, h.seen_at) == (KEY, Outcome.OPEN, 7, NOW)


@pytest.mark.parametrize(("needed", "times", "want"), [
    (1, [0.0], [True]),
    (2, [0.0, 0.1], [False, True]),
    (2, [0.0, 1.5, 1.6], [False, False, True]),  # the first read fell out of the window
    (3, [0.0, 0.2, 0.4, 0.5], [False, False, True, False]),  # counting starts anew
])
def test_confirmations(needed, times, want):
    c = Confirmations(needed, 1.0)
    assert [c.confirmed(KEY, t) for t in times] == want


GATES = {"in": IN, "out": OUT, "both": GateInfo("side", "green-acres", Direction.BOTH)}


@pytest.mark.parametrize(("mode", "gate", "inside", "outcome", "reason", "alerts"), [
    ("off", "in", True, Outcome.OPEN, Reason.TAG_VALID, ()),
    ("hard", "in", True, Outcome.DENY, Reason.ANTI_PASSBACK, ()),
    ("soft", "in", True, Outcome.OPEN, Reason.TAG_VALID, ("anti_passback",)),
    ("hard", "in", False, Outcome.OPEN, Reason.TAG_VALID, ()),
    ("hard", "in", None, Outcome.OPEN, Reason.TAG_VALID, ()),  # never seen: no judgement
    ("hard", "out", False, Outcome.DENY, Reason.ANTI_PASSBACK, ()),
    ("hard", "out", True, Outcome.OPEN, Reason.TAG_VALID, ()),
    ("hard", "both", True, Outcome.OPEN, Reason.TAG_VALID, ()),  # the way follows the state
    ("hard", "both", False, Outcome.OPEN, Reason.TAG_VALID, ()),
])
def test_anti_passback(mode, gate, inside, outcome, reason, alerts):
    g = replace(GATES[gate], anti_passback=AntiPassback(mode))
    view = View(tags={EPC: tag()})
    if inside is not None:
        view.inside["MH12AB1234"] = inside
    d = decide(Credential.tag(EPC), g, view, NOW, P)
    assert (d.outcome, d.reason, d.alerts) == (outcome, reason, alerts)


def test_anti_passback_never_turns_a_refusal_into_an_open():
    refused = Decision(Outcome.DENY, Reason.TAG_INACTIVE, "g", Credential.tag(EPC), NOW, "X",
                       Direction.ENTRY)
    assert passback(refused, AntiPassback.HARD, True) is refused


@pytest.mark.parametrize(("leaving", "locks", "refused"), [
    (True, [(True, None)], True),
    (False, [(True, None)], False),  # a locked vehicle may enter
    (True, [(True, NOW + timedelta(minutes=1))], True),
    (True, [(True, NOW)], False),  # the lock ends exactly now
    (True, [(False, None), (True, None)], True),  # any of its tags
    (True, [], False),
])
def test_the_lock_rule(leaving, locks, refused):
    assert (refusing_lock(leaving, locks, NOW) is not None) is refused
    assert is_locked(True, None, NOW) and not is_locked(False, None, NOW)


def test_the_boom_reading_tells_passes_closes_and_when_to_latch_a_hold():
    from edge.adapters.relay import GateInputs
    from edge.lanes.boom import Boom

    b = Boom()
    up, on_loop, down = GateInputs(False, True, False), GateInputs(True, True, False), \
        GateInputs(False, False, True)
    b.read(down)
    b.opened("MH12AB1234", NOW, "g:2", confirm_by=10.0)
    b.hold_pending = True
    assert b.overdue(5.0) is None
    r = b.read(up)
    assert (r.passed, r.came_down, r.latch) == (False, False, True) and b.confirm is None
    assert b.read(on_loop).passed is False and b.read(up).passed is True
    assert b.take_awaiting() == ("MH12AB1234", NOW, "g:2") and b.take_awaiting() is None
    assert b.read(down).came_down is True
    b.opened(None, NOW, "g:3", confirm_by=1.0)
    assert b.overdue(2.0) == "g:3" and b.overdue(3.0) is None  # alerted once


def test_devices_start_unknown_and_are_down_only_after_the_wait():
    from edge.lanes.devices import Devices

    d = Devices()
    d.expect(["reader"], 0.0)
    assert d.report("reader", False, "refused", 0.5) is None  # still unknown
    assert d.overdue(1.0, 5.0) == [] and d.state["reader"] is None
    assert d.overdue(5.0, 5.0) == [("reader", "refused")] and d.state["reader"] is False
    assert d.report("reader", True, "", 6.0) == (True, "")  # back: reported once
    assert d.report("reader", True, "", 6.1) is None
    assert d.report("reader", False, "cable", 7.0) == (False, "cable")
    e = Devices()
    e.expect(["relay"], 0.0)
    assert e.report("relay", True, "", 0.1) is None and e.overdue(9.0, 5.0) == []  # silent boot
