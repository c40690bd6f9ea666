"""Access codes at the gate, as tables (the pure resolver, ``edge.core.credentials``): a code is
read in the site's alphabet, looked up by its keyed hash, and decided on its life; the decision
never carries the code in clear. Also ``shared.codes``: alphabets, drawing and reading."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from edge.core.decide import decide
from edge.core.types import CodeRecord, CodeSettings, Credential, GateInfo, Policy
from shared.codes import ALPHABETS, code_hash, draw, normalise, registry_digest
from shared.schedule import build
from shared.vocab import Direction, Outcome, Reason
from tests.test_decide import View

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
KEY = bytes(range(32))
SITE = "green-acres"
CODE = "48213907"
IN = GateInfo("main-in", SITE, Direction.ENTRY)
OUT = GateInfo("main-out", SITE, Direction.EXIT)


@dataclass
class CodeView(View):
    settings: CodeSettings | None = field(
        default_factory=lambda: CodeSettings(KEY, "digits", False))
    codes: dict[str, CodeRecord] = field(default_factory=dict)

    def code_settings(self, site: str) -> CodeSettings | None:
        return self.settings

    def code(self, site: str, digest: str) -> CodeRecord | None:
        return self.codes.get(digest)


def record(**kw) -> CodeRecord:
    base = CodeRecord(code_hash(KEY, CODE), SITE, "visitor", "active", NOW - timedelta(hours=1),
                      NOW + timedelta(hours=2), None, True, None, "B-402", None,
                      "delivery: Ravi")
    return replace(base, **kw)


def decided(rec: CodeRecord | None, typed: str = CODE, gate: GateInfo = IN,
            first_use: bool = False, now: datetime = NOW, **view_kw):
    view = CodeView(settings=CodeSettings(KEY, "digits", first_use),
                    codes={rec.hash: rec} if rec else {}, **view_kw)
    return decide(Credential.code(typed), gate, view, now, Policy())


CASES = [
    ("a valid pass", record(), CODE, Outcome.OPEN, Reason.CODE_VALID),
    ("typed with spaces and a dash", record(), "4821 39-07", Outcome.OPEN, Reason.CODE_VALID),
    ("a code never issued", None, CODE, Outcome.DENY, Reason.CODE_UNKNOWN),
    ("too short to be a code", record(), "4821", Outcome.DENY, Reason.CODE_UNKNOWN),
    ("letters at a digits site", record(), "48213A07", Outcome.DENY, Reason.CODE_UNKNOWN),
    ("cancelled by its holder", record(status="cancelled"), CODE, Outcome.DENY,
     Reason.CODE_CANCELLED),
    ("spent, as the cloud says", record(status="spent"), CODE, Outcome.DENY, Reason.CODE_SPENT),
    ("spent at this box, before the cloud knew", record(spent=True), CODE, Outcome.DENY,
     Reason.CODE_SPENT),
    ("expired, as the cloud says", record(status="expired"), CODE, Outcome.DENY,
     Reason.CODE_EXPIRED),
    ("its window ended a second ago", record(valid_until=NOW), CODE, Outcome.DENY,
     Reason.CODE_EXPIRED),
    ("its window starts in a minute", record(valid_from=NOW + timedelta(minutes=1)), CODE,
     Outcome.DENY, Reason.CODE_NOT_ACTIVE),
    ("issued, never activated", record(status="issued", kind="person"), CODE, Outcome.DENY,
     Reason.CODE_NOT_ACTIVE),
]


@pytest.mark.parametrize(("name", "rec", "typed", "outcome", "reason"), CASES,
                         ids=[c[0] for c in CASES])
def test_code_decisions(name, rec, typed, outcome, reason) -> None:
    d = decided(rec, typed)
    assert (d.outcome, d.reason) == (outcome, reason), d.detail


def test_the_decision_carries_the_hash_never_the_code() -> None:
    for typed in (CODE, "4821"):
        d = decided(record(), typed)
        assert typed not in d.credential.value and "4821" not in d.detail
    assert decided(record()).credential.value == code_hash(KEY, CODE)


def test_first_use_activates_only_before_its_deadline() -> None:
    issued = record(status="issued", kind="person", valid_from=None, valid_until=None,
                    activate_by=NOW + timedelta(days=1), single_use=False)
    assert decided(issued, first_use=True).reason is Reason.CODE_VALID
    assert "activated by this first use" in decided(issued, first_use=True).detail
    late = replace(issued, activate_by=NOW - timedelta(seconds=1))
    assert decided(late, first_use=True).reason is Reason.CODE_NOT_ACTIVE


def test_a_site_without_codes_knows_none() -> None:
    view = CodeView(settings=None)
    d = decide(Credential.code(CODE), IN, view, NOW, Policy())
    assert (d.reason, d.detail) == (Reason.CODE_UNKNOWN, "this site has no codes")


def test_a_helpers_pass_keeps_to_its_schedule_on_entry_only() -> None:
    weekdays = build("helpers", "Asia/Kolkata", [(["mon", "tue", "wed", "thu", "fri", "sat"],
                                                 "07:00", "19:00")], [])
    helper = record(single_use=False, schedule="helpers", valid_until=NOW + timedelta(days=30))
    at_night = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)  # 21:30 in Kolkata
    d = decided(helper, now=at_night, schedules={"helpers": weekdays})
    assert (d.reason, d.schedule) == (Reason.OUTSIDE_SCHEDULE, "helpers")
    assert decided(helper, gate=OUT, now=at_night,
                   schedules={"helpers": weekdays}).reason is Reason.CODE_VALID
    assert decided(helper, schedules={"helpers": weekdays}).reason is Reason.CODE_VALID


def test_alphabets_draws_and_reading() -> None:
    assert set(ALPHABETS["letters"]).isdisjoint("0O1I")
    for alphabet in ("digits", "letters"):
        for length in (8, 9, 10):
            code = draw(alphabet, length)  # type: ignore[arg-type]
            assert len(code) == length and set(code) <= set(ALPHABETS[alphabet])
            assert normalise(code.lower(), alphabet) == code  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not used in letters codes"):
        normalise("ABCD0EFG", "letters")  # a zero is never guessed to be an O
    with pytest.raises(ValueError):
        draw("digits", 7)
    assert registry_digest("48213907") != code_hash(KEY, "48213907")


def test_a_keypad_locks_after_wrong_codes_within_the_window() -> None:
    from edge.core.keypad import KeypadLock, noted

    window, lock_for = timedelta(minutes=5), timedelta(minutes=5)
    lock = KeypadLock()
    for i in range(4):
        lock, locked = noted(lock, True, NOW + timedelta(seconds=i), 5, window, lock_for)
        assert not locked and not lock.locked(NOW + timedelta(seconds=i))
    lock, locked = noted(lock, True, NOW + timedelta(seconds=5), 5, window, lock_for)
    assert locked and lock.locked(NOW + timedelta(minutes=5))
    assert not lock.locked(NOW + timedelta(minutes=5, seconds=6))
    # Wrong codes spread wider than the window never lock; a right one forgets them.
    spread = KeypadLock()
    for i in range(10):
        spread, locked = noted(spread, True, NOW + timedelta(minutes=2 * i), 5, window,
                               lock_for)
        assert not locked
    spread, _ = noted(spread, False, NOW + timedelta(minutes=21), 5, window, lock_for)
    assert spread.wrong == ()
