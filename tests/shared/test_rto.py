"""The resend timeout follows the acks (pure)."""

from __future__ import annotations

from shared.rto import ResendTimer


def test_it_never_resends_before_the_floor() -> None:
    t = ResendTimer(floor_s=5.0)
    assert t.timeout_s == 5.0
    for _ in range(20):
        t.sample(0.05)
    assert t.timeout_s == 5.0


def test_it_grows_with_slow_acks_and_comes_back_when_they_are_quick() -> None:
    t = ResendTimer(floor_s=5.0)
    t.sample(6.0)
    assert t.timeout_s == 6.0 + 4 * 3.0  # one sample: its variance is half of it
    for _ in range(20):
        t.sample(6.0)
    assert 6.0 < t.timeout_s < 6.5
    for _ in range(60):
        t.sample(0.1)
    assert t.timeout_s == 5.0


def test_each_timeout_doubles_it_until_an_ack_is_timed_again() -> None:
    t = ResendTimer(floor_s=5.0, ceiling_s=60.0)
    t.timed_out()
    assert t.timeout_s == 10.0
    t.timed_out()
    t.timed_out()
    t.timed_out()
    assert t.timeout_s == 60.0  # the ceiling
    t.sample(0.1)
    assert t.timeout_s == 5.0
