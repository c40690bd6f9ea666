"""Access codes at the gate, as tables (the pure resolver, ``edge.core.credentials``): a code is
read in the site's alphabet, looked up by its keyed hash, and decided on its life; the decision
never carries the code in clear. Also ``shared.codes``: alphabets, drawing and reading."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from edge.core.decide import decide
from edge.core.types import CodeRecord, CodeSettings, Credential, GateInfo, Policy
from shared.codes import ALPHABETS, CodeKey, code_hash, draw, normalise, registry_digest
from shared.schedule import build
from shared.vocab import Direction, Outcome, Reason
from tests.factories import View

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
KEY = bytes(range(32))
SITE = "green-acres"
CODE = "48213907"
IN = GateInfo("main-in", SITE, Direction.ENTRY)
OUT = GateInfo("main-out", SITE, Direction.EXIT)


@dataclass
class CodeView(View):
    settings: CodeSettings | None = field(
        default_factory=lambda: CodeSettings(CodeKey(key=KEY), "digits", False))
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
    view = CodeView(settings=CodeSettings(CodeKey(key=KEY), "digits", first_use),
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
    assert CODE not in repr(d)  # the typed code is not kept in the decision (nor its event)


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
    # Wrong codes spread wider than the window never lock; a right one forgets none of them:
    # they run out with the window only.
    spread = KeypadLock()
    for i in range(10):
        spread, locked = noted(spread, True, NOW + timedelta(minutes=2 * i), 5, window,
                               lock_for)
        assert not locked
    spread, _ = noted(spread, False, NOW + timedelta(minutes=21), 5, window, lock_for)
    assert spread.wrong == (NOW + timedelta(minutes=18),)


def test_a_box_without_the_sites_pepper_refuses_codes_with_its_own_reason() -> None:
    """After a start without the cloud the box holds hashes but not the pepper to compute
    them: a clear refusal, never a silent ``code_unknown`` (a code read as mistyped)."""
    view = CodeView(settings=CodeSettings(None, "digits", False),
                    codes={record().hash: record()})
    d = decide(Credential.code(CODE), IN, view, NOW, Policy())
    assert (d.outcome, d.reason) == (Outcome.DENY, Reason.CODE_KEY_MISSING)
    assert CODE not in repr(d)


def test_the_scrypt_key_needs_its_pepper() -> None:
    salt, pepper = bytes(32), bytes(range(1, 33))
    key = CodeKey(salt=salt, pepper=pepper)
    assert key.digest(CODE) == key.digest(CODE) != CodeKey(salt=salt, pepper=bytes(32)
                                                           ).digest(CODE)
    assert key.digest(CODE) != CodeKey(salt=bytes(range(32)), pepper=pepper).digest(CODE)
    with pytest.raises(ValueError):
        CodeKey(salt=salt)  # a salt without its pepper tests nothing
    with pytest.raises(ValueError):
        CodeKey(salt=salt, pepper=pepper, cost=1000)


@pytest.mark.parametrize(("reason", "outcome", "counted"), [
    (Reason.CODE_VALID, Outcome.OPEN, False),
    (Reason.CODE_UNKNOWN, Outcome.DENY, True),
    (Reason.CODE_SPENT, Outcome.DENY, True),
    (Reason.CODE_EXPIRED, Outcome.DENY, True),
    (Reason.CODE_CANCELLED, Outcome.DENY, True),
    (Reason.CODE_NOT_ACTIVE, Outcome.DENY, True),
    (Reason.OUTSIDE_SCHEDULE, Outcome.DENY, None),  # a live code at the wrong hour
    (Reason.ANTI_PASSBACK, Outcome.DENY, None),  # a live code on the wrong side
    (Reason.KEYPAD_LOCKED, Outcome.DENY, None),  # refused unread
])
def test_every_refused_code_is_a_guess(reason, outcome, counted) -> None:
    from edge.core.keypad import guess
    from edge.core.types import Decision

    assert guess(Decision(outcome, reason, "main-in", Credential.code(CODE), NOW)) is counted


def test_locks_in_a_row_grow_and_a_right_code_forgives_nothing() -> None:
    from edge.core.keypad import KeypadLock, cleared, noted

    five, twenty = timedelta(minutes=5), timedelta(minutes=20)

    def lock_after_five(lock: KeypadLock, at: datetime) -> KeypadLock:
        for i in range(5):
            lock, locked = noted(lock, True, at + timedelta(seconds=i), 5, five, five, twenty)
        assert locked and lock.until is not None
        return lock

    lock, at, spans = KeypadLock(), NOW, []
    for _ in range(4):  # the guesser comes back as each lock ends
        lock = lock_after_five(lock, at)
        assert lock.until is not None
        spans.append(lock.until - (at + timedelta(seconds=4)))
        at = lock.until
    assert spans == [five, 2 * five, 4 * five, twenty]
    lock = cleared(lock)  # the guard ends it: decided again, but the next lock still grows
    assert not lock.locked(at) and lock.level == 4
    lock = lock_after_five(lock, at)
    assert lock.until == at + timedelta(seconds=4) + twenty
    lock, _ = noted(lock, False, lock.until, 5, five, five, twenty)  # the helper's right code
    assert (lock.level, lock.wrong) == (5, ())  # changes nothing
    lock = lock_after_five(lock, at + timedelta(hours=2))
    assert lock.level == 6 and lock.until == at + timedelta(hours=2, seconds=4) + twenty
    lock = lock_after_five(lock, at + timedelta(days=2))  # a day apart: not in a row
    assert lock.level == 1
    lock, locked = noted(lock, None, at + timedelta(days=3), 5, five, five, twenty)
    assert not locked and lock.level == 1  # a refusal that is no guess changes nothing


def test_a_right_code_between_guesses_keeps_them_and_the_locks_level() -> None:
    """A resident with a reusable code typed four guesses, then their own code, and again,
    for ever: the right code wiped the guesses and the lock level."""
    from edge.core.keypad import KeypadLock, noted

    five, hour = timedelta(minutes=5), timedelta(hours=1)
    lock, t, spans = KeypadLock(), NOW, []
    for _ in range(12):  # four guesses, then the resident's own code, each round
        for right in (False, False, False, False, True):
            t += timedelta(seconds=1)
            if lock.locked(t):  # refused unread: neither a guess nor a right code
                lock, _ = noted(lock, None, t, 5, five, five, hour)
                continue
            lock, locked = noted(lock, not right, t, 5, five, five, hour)
            if locked:
                assert lock.until is not None
                spans.append(lock.until - t)
                t = lock.until  # the guesser comes back as the lock ends
    assert spans[:4] == [five, 2 * five, 4 * five, 8 * five], spans  # a lock every 5 guesses


@pytest.mark.parametrize(("source", "typed", "counted"), [
    ("qr", "FASTAG 34161FA8203289720BD46FA0", None),  # a toll tag's QR: cannot be a code
    ("qr", "https://parking.example/permit/B-402", None),  # a permit, a poster
    ("qr", "4821", None),  # too short to be a code
    ("qr", "90000001", True),  # code-shaped, unknown: a guess
    ("keypad", "4821", True),  # typed: every refused code counts
    ("keypad", "FASTAG 34161FA8203289720BD46FA0", True),
])
def test_a_qr_that_cannot_be_a_code_is_no_guess(source, typed, counted) -> None:
    """Any non-pass QR on a windscreen counted as a guess and locked the camera's QR search."""
    from edge.core.keypad import guess

    d = decided(record(), typed)
    assert d.reason is Reason.CODE_UNKNOWN
    assert guess(d, source) is counted
