"""Time-of-day access profiles (pure): when a schedule lets a vehicle in.

A site names schedules ("helpers: Mon–Sat 07:00–19:00", "night shift: 22:00–06:00") and binds
vehicles, tags and subscriptions to them; the edge decides from them offline, on its own clock.

Rules, on the site's wall clock (its IANA time zone):

* A window ``start``–``end`` on some days of the week holds from ``start`` (included) to
  ``end`` (excluded). ``end`` may be ``24:00``. An ``end`` earlier than ``start`` runs past
  midnight and belongs to the day it starts: ``fri 22:00–06:00`` holds Friday night until 06:00
  on Saturday.
* A holiday closes the windows that *start* on that date; a night window that started the
  evening before runs to its end.
* Wall-clock times make daylight-saving changes safe: on the night the clocks go forward, the
  skipped hour does not happen (a window inside it is not open that night); on the night they go
  back, the repeated hour is inside a window both times. Instants are compared in the site's
  zone, never as UTC offsets, so a window means the same local hours all year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HHMM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")


def minutes(hhmm: str) -> int:
    """``"07:30"`` → 450; ``"24:00"`` → 1440; anything else raises ValueError."""
    if not HHMM.match(hhmm):
        raise ValueError(f"{hhmm!r} is not a time HH:MM (00:00–23:59, or 24:00 as an end)")
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone *name*; ValueError when there is none of that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Asia/Kolkata)") from exc


@dataclass(frozen=True, slots=True)
class Window:
    """Days of the week (0 = Monday) and minutes of the day, ``start`` included, ``end``
    excluded; ``end <= start`` runs past midnight."""

    days: frozenset[int]
    start: int
    end: int

    @property
    def overnight(self) -> bool:
        """Whether the window runs past midnight into the next day."""
        return self.end <= self.start

    def covers(self, day: date, minute: int, holidays: frozenset[date]) -> bool:
        """Whether local *minute* of *day* falls inside this window."""
        if not self.overnight:
            return (day.weekday() in self.days and day not in holidays
                    and self.start <= minute < self.end)
        if minute >= self.start:
            return day.weekday() in self.days and day not in holidays
        before = day - timedelta(days=1)
        return (minute < self.end and before.weekday() in self.days
                and before not in holidays)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A named schedule of one site, in the site's time zone."""

    name: str
    tz: str
    windows: tuple[Window, ...]
    holidays: frozenset[date] = frozenset()
    label: str = ""

    def local(self, now: datetime) -> datetime:
        """*now* on the site's wall clock (a naive *now* is taken as UTC)."""
        if now.tzinfo is None:
            now = now.replace(tzinfo=ZoneInfo("UTC"))
        return now.astimezone(zone(self.tz))

    def allows(self, now: datetime) -> bool:
        """Whether the schedule lets a vehicle in at *now*."""
        t = self.local(now)
        minute = t.hour * 60 + t.minute
        return any(w.covers(t.date(), minute, self.holidays) for w in self.windows)

    def describe(self) -> str:
        """The schedule in a few words, e.g. ``Mon–Sat 07:00–19:00``."""
        parts = [f"{_days(w.days)} {_hhmm(w.start)}–{_hhmm(w.end)}" for w in self.windows]
        text = "; ".join(parts) or "never"
        if self.holidays:
            n = len(self.holidays)
            text += f"; closed on {n} holiday{'s' if n > 1 else ''}"
        return text


def build(name: str, tz: str, windows: list[tuple[list[str], str, str]],
          holidays: list[date] | tuple[date, ...] = (), label: str = "") -> Schedule:
    """A Schedule from its parts as people write them: ``(["mon", …], "07:00", "19:00")``;
    ValueError names what is wrong."""
    zone(tz)
    built = []
    for i, (days, start, end) in enumerate(windows):
        unknown = [d for d in days if d not in DAYS]
        if unknown or not days:
            raise ValueError(f"window {i + 1}: days are some of {', '.join(DAYS)}")
        s, e = minutes(start), minutes(end)
        if s == 1440:
            raise ValueError(f"window {i + 1}: 24:00 is only an end")
        if s == e:
            raise ValueError(f"window {i + 1}: start and end are the same time "
                             "(a whole day is 00:00–24:00)")
        built.append(Window(frozenset(DAYS.index(d) for d in days), s, e))
    return Schedule(name, tz, tuple(built), frozenset(holidays), label)


def _hhmm(m: int) -> str:
    return f"{m // 60:02d}:{m % 60:02d}"


def _days(days: frozenset[int]) -> str:
    ordered = sorted(days)
    if ordered == list(range(7)):
        return "every day"
    runs: list[list[int]] = []
    for d in ordered:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    names = [DAYS[d].capitalize() for d in range(7)]
    return ", ".join(names[r[0]] if len(r) == 1 else
                     f"{names[r[0]]}{'–' if len(r) > 2 else ', '}{names[r[-1]]}" for r in runs)
