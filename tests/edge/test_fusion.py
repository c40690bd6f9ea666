"""Plate decisions, tag/plate fusion and gate credential modes (pure tables)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from edge.core.decide import decide, decide_plate
from edge.core.types import Credential, GateInfo, PlateEvidence, Policy, RecentCredential
from shared.vocab import CredentialMode, Direction, Outcome, Reason, TagStatus
from tests.factories import EPC, NOW, View, tag

GATE = GateInfo("lane", "green-acres", Direction.ENTRY)
OUT = GateInfo("lane-out", "green-acres", Direction.EXIT)
CAR = "MH12AB1234"
OTHER = "MH14CD5678"


def view(**kw) -> View:
    v = View(tags={EPC: tag()}, plates=[CAR, OTHER, "MH12A81234"])
    for k, val in kw.items():
        setattr(v, k, val)
    return v


def read(*cands: tuple[str, float]) -> PlateEvidence:
    return PlateEvidence(tuple(cands))


@pytest.mark.parametrize(("name", "gate", "evidence", "v", "outcome", "reason"), [
    ("exact plate of a tagged car", GATE, read((CAR, 0.9)), view(), Outcome.OPEN,
     Reason.PLATE_VALID),
    ("look-alike read of a single plate", GATE, read(("MH12AB1Z34", 0.6)), view(), Outcome.OPEN,
     Reason.PLATE_VALID),
    ("one look-alike from two plates", GATE, read(("MH12A8I234", 0.8)),
     view(plates=["MH12AB1234", "MH12A81234", "MH12A8I23A"]), Outcome.DENY, Reason.PLATE_AMBIGUOUS),
    ("candidates naming two plates", GATE, read((CAR, 0.8), (OTHER, 0.7)), view(), Outcome.DENY,
     Reason.PLATE_AMBIGUOUS),
    ("too blurred to trust", GATE, read((CAR, 0.1)), view(), Outcome.DENY,
     Reason.LOW_CONFIDENCE),
    ("unknown plate", GATE, read(("KA01AB0001", 0.95)), view(), Outcome.DENY,
     Reason.UNKNOWN_CREDENTIAL),
    ("a known car whose only tag is blocked", GATE, read((CAR, 0.9)),
     view(tags={EPC: tag(TagStatus.BLOCKED)}), Outcome.DENY, Reason.TAG_INACTIVE),
    ("a locked car may not leave by its plate", OUT, read((CAR, 0.9)),
     view(tags={EPC: tag(locked=True)}), Outcome.DENY, Reason.TAG_LOCKED),
], ids=lambda x: x if isinstance(x, str) else "")
def test_plate_table(name, gate, evidence, v, outcome, reason):
    d = decide_plate(evidence, gate, v, NOW, Policy())
    assert (d.outcome, d.reason) == (outcome, reason), d.detail


def recent(kind: str, vrn: str, ago: float = 2.0) -> dict:
    return {("lane", kind): RecentCredential(kind, vrn, NOW - timedelta(seconds=ago))}


def test_a_tag_on_the_wrong_car_is_a_mismatch():
    v = view(recents=recent("plate", OTHER))
    d = decide(Credential("tag", EPC), GATE, v, NOW, Policy())
    assert (d.outcome, d.reason) == (Outcome.DENY, Reason.CREDENTIAL_MISMATCH)
    assert OTHER in d.detail


def test_a_plate_after_a_tag_of_another_car_is_a_mismatch():
    v = view(recents=recent("tag", OTHER))
    d = decide_plate(read((CAR, 0.9)), GATE, v, NOW, Policy())
    assert d.reason is Reason.CREDENTIAL_MISMATCH


def test_an_old_credential_is_not_fused():
    v = view(recents=recent("plate", OTHER, ago=60))
    assert decide(Credential("tag", EPC), GATE, v, NOW, Policy()).reason is Reason.TAG_VALID


def test_an_alert_gate_opens_and_says_so():
    g = replace(GATE, mismatch="alert")
    d = decide(Credential("tag", EPC), g, view(recents=recent("plate", OTHER)), NOW, Policy())
    assert d.outcome is Outcome.OPEN and d.alerts == ("credential_mismatch",)


def test_a_mismatch_denied_carries_its_alert_as_data():
    d = decide(Credential("tag", EPC), GATE, view(recents=recent("plate", OTHER)), NOW, Policy())
    assert d.reason is Reason.CREDENTIAL_MISMATCH and d.alerts == ("credential_mismatch",)


@pytest.mark.parametrize(("mode", "kind", "outcome"), [
    (CredentialMode.TAG, "plate", Outcome.IGNORED), (CredentialMode.TAG, "tag", Outcome.OPEN),
    (CredentialMode.PLATE, "tag", Outcome.IGNORED), (CredentialMode.PLATE, "plate", Outcome.OPEN),
    (CredentialMode.EITHER, "tag", Outcome.OPEN), (CredentialMode.EITHER, "plate", Outcome.OPEN),
])
def test_gate_modes(mode, kind, outcome):
    g = replace(GATE, credentials=mode)
    if kind == "tag":
        d = decide(Credential("tag", EPC), g, view(), NOW, Policy())
    else:
        d = decide_plate(read((CAR, 0.9)), g, view(), NOW, Policy())
    assert d.outcome is outcome


def test_both_mode_waits_for_the_second_agreeing_credential():
    g = replace(GATE, credentials=CredentialMode.BOTH)
    first = decide(Credential("tag", EPC), g, view(), NOW, Policy())
    assert (first.outcome, first.reason) == (Outcome.IGNORED, Reason.CREDENTIAL_PENDING)
    second = decide_plate(read((CAR, 0.9)), g, view(recents=recent("tag", CAR)), NOW, Policy())
    assert (second.outcome, second.reason) == (Outcome.OPEN, Reason.PLATE_VALID)


@pytest.mark.parametrize(("accepts", "agree", "kind", "outcome"), [
    (frozenset({"tag"}), None, "plate", Outcome.IGNORED),  # plates do not open this gate
    (frozenset({"plate"}), None, "plate", Outcome.OPEN),
    (frozenset({"tag", "plate"}), True, "tag", Outcome.IGNORED),  # waits for the plate
    (frozenset({"tag", "plate"}), False, "tag", Outcome.OPEN),
])
def test_the_gate_says_which_kinds_it_accepts_and_whether_they_agree(accepts, agree, kind,
                                                                     outcome):
    g = replace(GATE, accepts=accepts, agree=agree)
    d = decide(Credential("tag", EPC), g, view(), NOW, Policy()) if kind == "tag" else \
        decide_plate(read((CAR, 0.9)), g, view(), NOW, Policy())
    assert d.outcome is outcome
