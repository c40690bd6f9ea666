"""The parking arithmetic (shared/parking.py) against the worked examples of the seed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.parking import (
    Band,
    check_bands,
    cost,
    debt,
    longest_rent,
    refund_remaining,
    standing,
    units_for_amount,
    whole_units,
)

SMALL = [Band(1, 15, 100), Band(16, 90, 80), Band(91, 180, 50)]  # the seed's small spaces
T0 = datetime(2026, 12, 1, 10, 0)


def test_bands_refuse_zero_prices_inversions_and_overlaps():
    check_bands(SMALL)
    with pytest.raises(ValueError, match="at least 1"):
        check_bands([Band(1, 5, 0)])
    with pytest.raises(ValueError, match="lower ≤ upper"):
        check_bands([Band(5, 4, 10)])
    with pytest.raises(ValueError, match="overlap"):
        check_bands([Band(1, 5, 10), Band(4, 10, 9)])  # the seed's own refused example
    assert longest_rent(SMALL) == 180


@pytest.mark.parametrize(("units", "price"), [(1, 100), (15, 1500), (16, 1280), (90, 7200),
                                              (91, 4550), (180, 9000)])
def test_cost_uses_the_band_the_rent_falls_in(units, price):
    assert cost(units, SMALL) == price


def test_no_rent_beyond_the_longest_band():
    with pytest.raises(ValueError, match="longest rent: 180"):
        cost(181, SMALL)


@pytest.mark.parametrize(("amount", "units"), [(100, 1), (1500, 18), (1280, 16), (1300, 16),
                                               (4550, 91), (9000, 180), (20000, 180)])
def test_amount_paid_buys_the_longest_rent_it_covers(amount, units):
    assert units_for_amount(amount, SMALL) == units
    assert cost(units, SMALL) <= amount


def test_too_little_money_buys_nothing():
    with pytest.raises(ValueError, match="the shortest costs 100"):
        units_for_amount(99, SMALL)


@given(st.integers(min_value=100, max_value=50_000))
def test_no_longer_rent_is_affordable(amount):
    n = units_for_amount(amount, SMALL)
    assert cost(n, SMALL) <= amount
    assert all(cost(m, SMALL) > amount for m in range(n + 1, 181))


@pytest.mark.parametrize(("late", "unit", "units"), [
    (timedelta(minutes=1), "daily", 1), (timedelta(days=3, hours=1), "daily", 4),
    (timedelta(minutes=1), "hourly", 1), (timedelta(hours=8, minutes=5), "hourly", 9),
    (timedelta(0), "daily", 0), (timedelta(days=2), "daily", 2)])
def test_late_time_counts_every_begun_unit(late, unit, units):
    assert whole_units(late, unit) == units


def test_debt_is_at_the_dearest_band_plus_camera_only_if_paid():
    end = T0
    now = end + timedelta(days=3, hours=1)
    assert debt(end, now, "daily", SMALL) == 4 * 100
    camera = [Band(1, 30, 20), Band(31, 180, 15)]
    assert debt(end, now, "daily", SMALL, camera) == 4 * 100 + 4 * 20
    assert debt(end, end, "daily", SMALL, camera) == 0


def test_refund_never_gives_back_the_begun_day():
    # 7 days paid, deactivated during day 1 → 6 days back
    assert refund_remaining(700, 7, T0, T0 + timedelta(hours=5), "daily") == 600
    assert refund_remaining(700, 7, T0, T0 + timedelta(days=1, minutes=1), "daily") == 500
    assert refund_remaining(700, 7, T0, T0 - timedelta(hours=1), "daily") == 700  # future
    assert refund_remaining(700, 7, T0, T0 + timedelta(days=9), "daily") == 0


def _st(now, inside, paid_through=None, continued=False, status="active"):
    end = T0 + timedelta(days=10)
    return standing(status, T0, end, paid_through or end, "daily", inside, now,
                    continued=continued)


def test_standing_through_a_subscriptions_life():
    end = T0 + timedelta(days=10)
    assert _st(T0 - timedelta(minutes=1), False).status == "future"
    assert _st(T0, False).status == "active"
    assert _st(end, False).status == "archive"  # ended while outside
    over = _st(end + timedelta(days=3, hours=1), True)  # ended while inside
    assert over.status == "overdue" and over.debt_from == end
    assert _st(end + timedelta(hours=1), True, continued=True).status == "archive"


def test_seed_example_debt_paid_then_no_exit():
    """Paid until 31 Dec 10:00; on the morning of 10 Jan the debt for 10 days is paid; there is
    a day to leave; still inside after 10:00 on 11 Jan, debt shows again."""
    start, end = datetime(2026, 12, 1, 10), datetime(2026, 12, 31, 10)
    paid_at = datetime(2027, 1, 10, 8)
    assert whole_units(paid_at - end, "daily") == 10
    paid_through = end + timedelta(days=10)
    s = standing("overdue", start, end, paid_through, "daily", True, paid_at)
    assert s.status == "repaid" and s.exit_until == datetime(2027, 1, 11, 10)
    late = datetime(2027, 1, 11, 10, 1)
    s = standing("repaid", start, end, paid_through, "daily", True, late)
    assert s.status == "overdue" and s.debt_from == paid_through
    assert debt(paid_through, late, "daily", SMALL) == 2 * 100
    left = standing("repaid", start, end, paid_through, "daily", False, datetime(2027, 1, 10, 9))
    assert left.status == "archive"


def test_draft_holds_the_space_for_fifteen_minutes():
    hold = T0 + timedelta(minutes=15)
    assert standing("draft", T0, T0, T0, "daily", False, T0 + timedelta(minutes=14),
                    hold_until=hold).status == "draft"
    assert standing("draft", T0, T0, T0, "daily", False, hold, hold_until=hold
                    ).status == "lapsed"
