"""Excel reports (XlsxWriter in constant-memory mode, so 100,000 rows stream): subscriptions of
chosen parkings by creation date, and the space occupancy log."""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import xlsxwriter

from cloud.storage import Database
from cloud.storage import subscriptions as store

SUB_COLUMNS = ["Status", "Number", "Owner", "Parking", "Space", "Start", "End", "Amount paid",
               "Tariff type", "Created"]
OCC_COLUMNS = ["Time", "Parking", "Space", "Vehicle", "Subscription", "Movement", "Source"]


def local_time(s: str | None) -> datetime | None:
    """Excel holds naive times: the site's local time as recorded."""
    return datetime.fromisoformat(s).replace(tzinfo=None) if s else None


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
            if i in date_cols:
                ws.write_datetime(r, i, v, when)
            elif isinstance(v, str):
                ws.write_string(r, i, v)  # text stays text: never a formula
            else:
                ws.write(r, i, v)
    wb.close()
    return buf.getvalue()


def subscriptions_xlsx(db: Database, parkings: list[str], created_from: datetime | None,
                       created_to: datetime | None) -> bytes:
    """Subscriptions of *parkings* created in [from, to), oldest first."""
    rows = ([r[0], r[1], r[2], r[3], r[4], local_time(r[5]), local_time(r[6]), r[7], r[8],
             local_time(r[9])]
            for r in store.created_between(db.conn, parkings, _iso(created_from),
                                           _iso(created_to)))
    return workbook("Subscriptions", SUB_COLUMNS, rows, {5, 6, 9})


def occupancy_xlsx(db: Database, parking: str, since: datetime | None,
                   until: datetime | None) -> bytes:
    """Every vehicle in and out of *parking*'s spaces, oldest first."""
    rows = ([local_time(r[0]), r[1], r[2], r[3], r[4], "in" if r[5] else "out", r[6]]
            for r in store.occupancy(db.conn, parking, _iso(since), _iso(until)))
    return workbook("Occupancy", OCC_COLUMNS, rows, {0})
