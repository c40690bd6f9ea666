"""Excel reports (XlsxWriter in constant-memory mode, so 100,000 rows stream): subscriptions of
chosen parkings by creation date, and the space occupancy log. Times are real Excel datetimes
on the parkings' site's clock, and the headers name that zone (and the amounts' currency)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import xlsxwriter

from cloud.storage import Database, Tx, society
from cloud.storage import parking as parking_store
from cloud.storage import subscriptions as store
from shared.country import shown_zone

SUB_COLUMNS = ["Status", "Number", "Owner", "Parking", "Space", "Start", "End", "Amount paid",
               "Tariff type", "Created"]
OCC_COLUMNS = ["Time", "Parking", "Space", "Vehicle", "Subscription", "Movement", "Source"]


@dataclass(frozen=True)
class SheetLocale:
    """The zone a report's times are in and the currency of its amounts, named in its
    headers: the parkings' sites' own, or UTC and no currency where they differ."""

    zone: str
    currency: str | None

    @classmethod
    def of(cls, c: Tx, parkings: list[str]) -> SheetLocale:
        """The sheet of *parkings* (each must exist)."""
        found = [parking_store.parking(c, p) for p in parkings]
        return cls.of_sites(c, sorted({str(p["site"]) for p in found if p is not None}))

    @classmethod
    def of_sites(cls, c: Tx, sites: list[str]) -> SheetLocale:
        """The sheet of *sites*."""
        rows = [r for r in (society.site(c, s) for s in sites) if r is not None]
        zones = {shown_zone(r["country"], r["timezone"]) for r in rows}
        currencies = {r["currency"] for r in rows}
        return cls(zones.pop() if len(zones) == 1 else "UTC",
                   currencies.pop() if len(currencies) == 1 else None)

    def aware(self, s: str | None) -> datetime | None:
        """A stored time on the sheet's clock, with its offset."""
        if not s:
            return None
        t = datetime.fromisoformat(s)  # a time stored without its offset was UTC
        return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(ZoneInfo(self.zone))

    def time(self, s: str | None) -> datetime | None:
        """Excel holds naive times: the moment on the sheet's clock."""
        t = self.aware(s)
        return t.replace(tzinfo=None) if t else None

    def headers(self, columns: list[str], times: set[int], amounts: set[int]) -> list[str]:
        """*columns* with the zone after each time's name and the currency after each
        amount's."""
        return [f"{n} ({self.zone})" if i in times else
                f"{n} ({self.currency})" if i in amounts and self.currency else n
                for i, n in enumerate(columns)]


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def workbook(title: str, columns: list[str], rows: Iterable[list[Any]],
              date_cols: set[int]) -> bytes:
    """An Excel workbook of one sheet: *columns* as a bold, frozen header, then *rows* (the
    *date_cols* as datetimes, text always as text)."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"constant_memory": True, "in_memory": True})
    ws = wb.add_worksheet(title)
    bold = wb.add_format({"bold": True})
    when = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    ws.freeze_panes(1, 0)
    for i, name in enumerate(columns):
        ws.write_string(0, i, name, bold)
        ws.set_column(i, i, 19 if i in date_cols else 14)
    for r, row in enumerate(rows, start=1):
        for i, v in enumerate(row):
            if v is None:
                continue
            if i in date_cols:  # on the sheet's clock, which its header names
                ws.write_datetime(r, i, v.replace(tzinfo=None), when)
            elif isinstance(v, str):
                ws.write_string(r, i, v)  # text stays text: never a formula
            else:
                ws.write(r, i, v)
    wb.close()
    return buf.getvalue()


def subscriptions_xlsx(db: Database, parkings: list[str], created_from: datetime | None,
                       created_to: datetime | None) -> bytes:
    """Subscriptions of *parkings* created in [from, to), oldest first."""
    sheet = SheetLocale.of(db.conn, parkings)
    rows = ([r[0], r[1], r[2], r[3], r[4], sheet.time(r[5]), sheet.time(r[6]), r[7], r[8],
             sheet.time(r[9])]
            for r in store.created_between(db.conn, parkings, _iso(created_from),
                                           _iso(created_to)))
    return workbook("Subscriptions", sheet.headers(SUB_COLUMNS, {5, 6, 9}, {7}), rows,
                    {5, 6, 9})


def occupancy_xlsx(db: Database, parking: str, since: datetime | None,
                   until: datetime | None) -> bytes:
    """Every vehicle in and out of *parking*'s spaces, oldest first."""
    sheet = SheetLocale.of(db.conn, [parking])
    rows = ([sheet.time(r[0]), r[1], r[2], r[3], r[4], "in" if r[5] else "out", r[6]]
            for r in store.occupancy(db.conn, parking, _iso(since), _iso(until)))
    return workbook("Occupancy", sheet.headers(OCC_COLUMNS, {0}, set()), rows, {0})
