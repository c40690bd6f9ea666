"""Times as a guard reads them: on the site's clock, in the site's locale, "today, 18:30" or
"yesterday, 21:05" for recent ones and a date for older ones; never an ISO string.

A site's zone is the one the cloud gave the box with the site's schedules; a site with none
yet, or with one this box's tzdata does not know, takes the box's ``api.timezone``, else the
box's own zone (a zone it cannot resolve is logged once, never a page that fails). The
locale is ``api.locale`` (``en_IN`` by default). Formats come from Babel's data for the
locale, the time of day on the 24-hour clock a gate log keeps.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from babel import Locale
from babel.dates import format_skeleton, get_datetime_format, get_relative_name

from shared.schedule import zone as iana_zone

if TYPE_CHECKING:
    from edge.faces.port import Box, SiteClocks

log = logging.getLogger(__name__)

# A time written into a free-text detail (``locked until 2099-01-01T12:30:00+00:00``)
ISO_IN_TEXT = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?"
                         r"(?:Z|[+-]\d\d:?\d\d)?")


def _aware(at: str | datetime) -> datetime:
    t = datetime.fromisoformat(at) if isinstance(at, str) else at
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def zone_name(zone: tzinfo) -> str:
    """The zone's IANA name where it has one (``Asia/Kolkata``), else what it calls itself."""
    return getattr(zone, "key", None) or str(zone)


_unknown: set[str] = set()  # zones already logged as unknown: once each, not once a page


def _zone(name: str | None, fallback: tzinfo, of: str) -> tzinfo:
    """The zone called *name*, else *fallback*: one this box's tzdata lacks (or a bad value
    from the cloud) must not take every page down, sign-in included."""
    if not name:
        return fallback
    try:
        return iana_zone(name)
    except ValueError:
        if name not in _unknown:
            _unknown.add(name)
            log.error("time zone %r of %s is unknown on this box: its times show on %s",
                      name, of, zone_name(fallback))
        return fallback


@dataclass(frozen=True)
class Times:
    """The box's sites' clocks at one moment (one page, one export)."""

    locale: Locale
    zones: dict[str, tzinfo]  # site → its zone
    sites: dict[str, str]  # gate → its site
    fallback: tzinfo  # for a site or gate the box does not know
    now: datetime

    @classmethod
    def of(cls, box: Box) -> Times:
        """The clocks of *box*'s sites now (reads the store: off the event loop)."""
        return cls.from_clocks(box.site_clocks())

    @classmethod
    def from_clocks(cls, clocks: SiteClocks) -> Times:
        """The clocks the box reports, each zone resolved or replaced by the fallback."""
        own = datetime.now().astimezone().tzinfo or UTC
        fallback = _zone(clocks.default_zone, own, "api.timezone")
        zones = {site: _zone(name, fallback, f"site {site}")
                 for site, name in clocks.zones.items()}
        return cls(Locale.parse(clocks.locale), zones, clocks.sites, fallback, clocks.now)

    def zone(self, gate: str | None = None, site: str | None = None) -> tzinfo:
        """The zone of *site*, or of *gate*'s site; with neither, the box's first site's."""
        site = site or self.sites.get(gate or "")
        if site is None and not gate:
            site = next(iter(self.zones), None)
        return self.zones.get(site or "", self.fallback)

    def local(self, at: str | datetime, gate: str | None = None,
              site: str | None = None) -> datetime:
        """*at* on the site's clock."""
        return _aware(at).astimezone(self.zone(gate, site))

    def when(self, at: str | datetime | None, gate: str | None = None,
             site: str | None = None, seconds: bool = False) -> str:
        """"today, 18:30", "yesterday, 21:05", "tomorrow, 07:00", "12 Mar, 09:15" or
        "12 Mar 2024, 09:15" on the site's clock ("" for no time)."""
        if at is None or at == "":
            return ""
        t = self.local(at, gate, site)
        today = self.now.astimezone(t.tzinfo).date()
        return self._join(self._day(t.date(), today), t, seconds)

    def stamp(self, at: str | datetime | None, gate: str | None = None,
              site: str | None = None) -> str:
        """The full date and time on the site's clock, with seconds ("12 Mar 2025, 18:30:05"),
        for exports that are read later."""
        if at is None or at == "":
            return ""
        t = self.local(at, gate, site)
        return self._join(format_skeleton("yMMMd", t, tzinfo=t.tzinfo, locale=self.locale),
                          t, True)

    def words_in(self, text: str | None, gate: str | None = None) -> str:
        """Free text (a decision's or an alert's detail) with the times written in it as
        ISO 8601 put in words on the site's clock; only how it reads changes."""
        if not text:
            return ""

        def worded(m: re.Match[str]) -> str:
            try:
                return self.when(m.group(0), gate)
            except ValueError:
                return m.group(0)

        return ISO_IN_TEXT.sub(worded, text)

    def parse(self, text: str) -> datetime:
        """A date and time typed in a filter: on the box's first site's clock unless it names
        its offset. Raises ValueError."""
        t = datetime.fromisoformat(text)
        return t if t.tzinfo else t.replace(tzinfo=self.zone())

    def field(self, at: datetime | None) -> str:
        """*at* as a ``datetime-local`` field's value on the box's first site's clock."""
        return at.astimezone(self.zone()).strftime("%Y-%m-%dT%H:%M") if at else ""

    def _day(self, day: date, today: date) -> str:
        offset = (day - today).days
        if -1 <= offset <= 1:
            name = get_relative_name("day", offset, locale=self.locale)
            if name:
                return name
        noon = datetime.combine(day, datetime.min.time()) + timedelta(hours=12)
        return format_skeleton("MMMd" if day.year == today.year else "yMMMd", noon,
                               locale=self.locale)

    def _join(self, day: str, t: datetime, seconds: bool) -> str:
        clock = format_skeleton("Hms" if seconds else "Hm", t, tzinfo=t.tzinfo,
                                locale=self.locale)
        return str(get_datetime_format("short", locale=self.locale)).replace(
            "{1}", day).replace("{0}", clock)
