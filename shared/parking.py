"""The arithmetic of paid parking, shared by the cloud and the edge (pure, no IO).

Tariff bands, rent from an amount paid, debt, refunds, and where a subscription stands at a
moment in time. The rules and their worked examples are in docs/parking-rules.md.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Unit = Literal["daily", "hourly"]
UNIT = {"daily": timedelta(days=1), "hourly": timedelta(hours=1)}
EXIT_WINDOW = UNIT  # after paying a debt: a day to leave on a daily rent, an hour on hourly
DRAFT_HOLD = timedelta(minutes=15)


@dataclass(frozen=True)
class Band:
    """Units ``lower``..``upper`` (inclusive) cost ``price`` each."""

    lower: int
    upper: int
    price: int


def check_bands(bands: list[Band]) -> None:
    """Refuse zero prices, empty or inverted ranges, and overlapping bands (one tariff set)."""
    for b in bands:
        if b.price < 1:
            raise ValueError(f"band {b.lower}–{b.upper}: the price per unit must be at least 1")
        if b.lower < 1 or b.upper < b.lower:
            raise ValueError(f"band {b.lower}–{b.upper}: bounds must satisfy 1 ≤ lower ≤ upper")
    ordered = sorted(bands, key=lambda b: b.lower)
    for a, b in itertools.pairwise(ordered):
        if b.lower <= a.upper:
            raise ValueError(f"bands {a.lower}–{a.upper} and {b.lower}–{b.upper} overlap")


def longest_rent(bands: list[Band]) -> int:
    """The largest upper bound: the longest rent the tariff allows (0 without bands)."""
    return max((b.upper for b in bands), default=0)


def band_for(units: int, bands: list[Band]) -> Band | None:
    """The band a rent of *units* falls in."""
    return next((b for b in bands if b.lower <= units <= b.upper), None)


def cost(units: int, bands: list[Band]) -> int:
    """What a rent of *units* costs: every unit at the price of the band the rent falls in."""
    band = band_for(units, bands)
    if band is None:
        raise ValueError(f"no tariff band covers {units} units (longest rent: "
                         f"{longest_rent(bands)})")
    return units * band.price


def units_for_amount(amount: int, bands: list[Band]) -> int:
    """The longest rent *amount* pays for (a dearer short band never beats a longer one)."""
    best = 0
    for b in bands:
        n = min(b.upper, amount // b.price)
        if n >= b.lower:
            best = max(best, n)
    if best == 0:
        cheapest = min((b.lower * b.price for b in bands), default=None)
        raise ValueError(f"{amount} pays for no rent; the shortest costs {cheapest}")
    return best


def dearest(bands: list[Band]) -> int:
    """The most expensive price per unit (what debt is charged at); 0 without bands."""
    return max((b.price for b in bands), default=0)


def whole_units(span: timedelta, unit: Unit) -> int:
    """*span* in units, every begun unit counted (1 minute → 1; 3 d 1 h → 4 days)."""
    if span <= timedelta(0):
        return 0
    return math.ceil(span / UNIT[unit])


def debt(paid_through: datetime, now: datetime, unit: Unit, bands: list[Band],
         camera_bands: list[Band] | None = None) -> int:
    """What is owed for staying past *paid_through*: every begun unit at the dearest band,
    plus the camera's dearest price when camera access was paid (``camera_bands`` given)."""
    n = whole_units(now - paid_through, unit)
    return n * dearest(bands) + n * dearest(camera_bands or [])


def refund_remaining(amount: int, units: int, start: datetime, now: datetime,
                     unit: Unit) -> int:
    """The part of *amount* for units not yet begun: the current day or hour is never given
    back (7 days paid, deactivated during day 1 → 6 days back)."""
    if units <= 0:
        return 0
    begun = min(units, whole_units(now - start, unit)) if now > start else 0
    return amount * (units - begun) // units


Status = Literal["draft", "future", "active", "overdue", "repaid", "archive", "lapsed"]
LIVE = ("future", "active", "overdue", "repaid")
DONE = ("archive", "lapsed")


@dataclass(frozen=True)
class Standing:
    """Where a subscription stands at a moment: its status then, debt, and the exit deadline."""

    status: Status
    debt_from: datetime | None = None  # debt accrues from here (status overdue)
    exit_until: datetime | None = None  # a repaid subscription may leave until then


def standing(status: Status, start: datetime, end: datetime, paid_through: datetime,
             unit: Unit, inside: bool, now: datetime, hold_until: datetime | None = None,
             continued: bool = False) -> Standing:
    """The status the rules give a subscription at *now*, from its stored status and times.

    The same function runs in the cloud's job and at the edge from cached times, so a gate that
    has lost the cloud still turns an expired subscription overdue. ``paid_through`` is the end
    plus any debt paid; after paying, the vehicle has one unit (day/hour) past it to leave, and
    if it stays the debt runs on from ``paid_through``.
    """
    if status in DONE:
        return Standing(status)
    if status == "draft":
        return Standing("lapsed" if hold_until is not None and now >= hold_until else "draft")
    if now < start:
        return Standing("future")
    if now < end:
        return Standing("active")
    if not inside or continued:  # left in time, or an extension takes over at the end
        return Standing("archive")
    if paid_through > end:  # a debt was paid
        window_end = paid_through + EXIT_WINDOW[unit]
        if now < window_end:
            return Standing("repaid", exit_until=window_end)
    return Standing("overdue", debt_from=paid_through)
