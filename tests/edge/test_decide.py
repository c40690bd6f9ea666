"""The pure decision core, as tables."""

from __future__ import annotations

from datetime import timedelta

import pytest

from edge.core.decide import decide, effective_direction
from edge.core.types import Credential, GateInfo, Policy
from shared.vocab import Direction, Outcome, Reason, TagStatus
from tests.factories import EPC, IN, NOW, OUT, View, tag

BOTH = GateInfo("side", "green-acres", Direction.BOTH)

CASES = [
    # (name, gate, tag, inside, seen_ago_s, outcome, reason)
    ("valid entry", IN, tag(), None, None, Outcome.OPEN, Reason.TAG_VALID),
    ("valid exit", OUT, tag(), True, None, Outcome.OPEN, Reason.TAG_VALID),
    ("unknown tag", IN, None, None, None, Outcome.DENY, Reason.UNKNOWN_CREDENTIAL),
    ("tag of another society", IN, tag(site="blue-oaks"), None, None, Outcome.DENY,
     Reason.WRONG_SITE),
    ("inactive tag", IN, tag(TagStatus.INACTIVE), None, None, Outcome.DENY, Reason.TAG_INACTIVE),
    ("blocked tag", OUT, tag(TagStatus.BLOCKED), None, None, Outcome.DENY, Reason.TAG_INACTIVE),
    ("locked tag may enter", IN, tag(locked=True), False, None, Outcome.OPEN, Reason.TAG_VALID),
    ("locked tag may not leave", OUT, tag(locked=True), True, None, Outcome.DENY,
     Reason.TAG_LOCKED),
    ("lock still running", OUT, tag(locked=True, until=NOW + timedelta(minutes=1)), True, None,
     Outcome.DENY, Reason.TAG_LOCKED),
    ("lock expired", OUT, tag(locked=True, until=NOW - timedelta(seconds=1)), True, None,
     Outcome.OPEN, Reason.TAG_VALID),
    ("lock ends exactly now", OUT, tag(locked=True, until=NOW), True, None, Outcome.OPEN,
     Reason.TAG_VALID),
    ("both-way gate, locked, inside: leaving", BOTH, tag(locked=True), True, None, Outcome.DENY,
     Reason.TAG_LOCKED),
    ("both-way gate, locked, outside: entering", BOTH, tag(locked=True), False, None,
     Outcome.OPEN, Reason.TAG_VALID),
    ("both-way gate, locked, unknown: fail safe", BOTH, tag(locked=True), None, None,
     Outcome.DENY, Reason.TAG_LOCKED),
    ("wrong site beats inactive", IN, tag(TagStatus.BLOCKED, site="x"), None, None, Outcome.DENY,
     Reason.WRONG_SITE),
    ("inactive beats locked", OUT, tag(TagStatus.INACTIVE, locked=True), True, None,
     Outcome.DENY, Reason.TAG_INACTIVE),
]


@pytest.mark.parametrize(("name", "gate", "t", "inside", "seen_ago", "outcome", "reason"), CASES,
                         ids=[c[0] for c in CASES])
def test_decide_table(name, gate, t, inside, seen_ago, outcome, reason):
    view = View()
    if t is not None:
        view.tags[EPC] = t
        if inside is not None:
            view.inside[t.vrn] = inside
    cred = Credential("tag", EPC)
    if seen_ago is not None:
        view.seen[(gate.id, cred.key)] = NOW - timedelta(seconds=seen_ago)
    d = decide(cred, gate, view, NOW, Policy(dedup_hold_s=5.0))
    assert (d.outcome, d.reason) == (outcome, reason)
    assert d.opens == (outcome is Outcome.OPEN)
    assert d.gate == gate.id and d.at == NOW


def test_decision_carries_vehicle_and_direction():
    view = View(tags={EPC: tag()}, inside={"MH12AB1234": True})
    d = decide(Credential("tag", EPC), BOTH, view, NOW, Policy())
    assert d.vrn == "MH12AB1234" and d.direction is Direction.EXIT


@pytest.mark.parametrize(("gate", "inside", "want"), [
    (IN, True, Direction.ENTRY), (OUT, False, Direction.EXIT), (BOTH, True, Direction.EXIT),
    (BOTH, False, Direction.ENTRY), (BOTH, None, Direction.EXIT)])
def test_effective_direction(gate, inside, want):
    assert effective_direction(gate, inside) is want
