"""What the box's faces read of its store beyond the rules cache: the event log by filter, the
cached vehicles by plate or flat, the visitors expected today and inside now, and a site's
clock. Read-only: every query is a ``SELECT``, and the faces reach the store through this
module alone (``edge.faces.port.Box.reads``), never through its connection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from edge.store import codes, visitors
from edge.store.db import EdgeDB
from edge.store.outbox import joined
from shared import vrn as vrn_rules


@dataclass(frozen=True)
class EventFilter:
    """A search of the event log; empty fields match everything."""

    since: datetime | None = None
    until: datetime | None = None
    gate: str = ""
    outcome: str = ""
    reason: str = ""
    plate: str = ""
    tag: str = ""
    type: str = ""
    limit: int = 500

    def where(self) -> tuple[str, list[Any]]:
        """SQL conditions and arguments over the event log."""
        conds: list[str] = []
        args: list[Any] = []
        # The log's times are ISO 8601 in UTC, compared as text: a bound is put in UTC too.
        if self.since:
            conds.append("at >= ?")
            args.append(_utc(self.since))
        if self.until:
            conds.append("at <= ?")
            args.append(_utc(self.until))
        for column, value in (("gate", self.gate), ("outcome", self.outcome),
                              ("reason", self.reason), ("type", self.type)):
            if value:
                conds.append(f"{column} = ?")
                args.append(value)
        if self.plate:
            conds.append("vrn LIKE ?")
            args.append(f"%{vrn_rules.normalise(self.plate)}%")
        if self.tag:
            conds.append("credential LIKE ?")
            args.append(f"%{self.tag.strip().upper()}%")
        return (" WHERE " + " AND ".join(conds)) if conds else "", args


def _utc(t: datetime) -> str:
    return (t.astimezone(UTC) if t.tzinfo else t).isoformat()


@dataclass(frozen=True)
class LoggedEvent:
    """One row of the event log with its data put back together."""

    gate: str
    seq: int
    at: str
    type: str
    outcome: str | None
    reason: str | None
    vrn: str | None
    credential: str | None
    data: dict[str, Any]


@dataclass(frozen=True)
class CachedVehicle:
    """A vehicle as the cloud's rules put it on this box."""

    site: str
    vrn: str
    type: str
    flat: str | None
    schedule: str | None


class StoreReads:
    """The faces' read model over the box's database."""

    def __init__(self, db: EdgeDB) -> None:
        self._db = db

    def events(self, f: EventFilter) -> list[LoggedEvent]:
        """Logged events matching *f*, newest first."""
        where, args = f.where()
        rows = self._db.conn.execute(
            f"SELECT gate, seq, at, type, outcome, reason, vrn, credential, rest FROM events"
            f"{where} ORDER BY at DESC, n DESC LIMIT ?", (*args, f.limit)).fetchall()
        return [LoggedEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7],
                            joined(r[4], r[5], r[6], r[7], r[8])) for r in rows]

    def plates_matching(self, query: str, limit: int = 20) -> list[tuple[str, str]]:
        """(site, plate) of the cached vehicles and subscription vehicles whose plate contains
        *query* (normalised), or whose flat is *query*; by plate."""
        q = query.strip()
        plate = vrn_rules.normalise(q)
        return [(site, vrn) for site, vrn in self._db.conn.execute(
            "SELECT site, vrn FROM vehicles WHERE vrn LIKE ? OR upper(flat) = upper(?) UNION "
            "SELECT s.site, v.vrn FROM sub_vehicles v JOIN subscriptions s ON s.id = v.sub "
            "WHERE v.vrn LIKE ? ORDER BY 2 LIMIT ?", (f"%{plate}%", q, f"%{plate}%", limit))]

    def vehicle(self, vrn: str) -> CachedVehicle | None:
        """The cached vehicle with this plate (any site), or None."""
        r = self._db.conn.execute("SELECT site, vrn, type, flat, schedule FROM vehicles "
                                  "WHERE vrn = ?", (vrn,)).fetchone()
        return None if r is None else CachedVehicle(*r)

    def expected_visitors(self, site: str, start: datetime,
                          end: datetime) -> list[dict[str, Any]]:
        """The visitor passes of *site* live at some time in [start, end)."""
        return codes.expected(self._db.conn, [site], start, end)

    def visitors_inside(self, sites: list[str]) -> list[visitors.Inside]:
        """The visitors inside *sites*, newest first."""
        return visitors.inside(self._db.conn, sites)

    def site_zone(self, site: str) -> str | None:
        """The site's IANA time zone, as the cloud sent it with the site's settings, or else as
        its cached schedules carry it (None: neither yet)."""
        r = self._db.conn.execute("SELECT timezone FROM site_settings WHERE site = ?",
                                  (site,)).fetchone()
        return str(r[0]) if r and r[0] else visitors.site_zone(self._db.conn, site)
