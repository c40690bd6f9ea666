"""Excel reports (openpyxl, write-only so 100,000 rows stream): subscriptions of chosen
parkings by creation date, and the space occupancy log."""

from __future__ import annotations

import io
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Font

from cloud.db import CloudDB

SUB_COLUMNS = ["Status", "Number", "Owner", "Parking", "Space", "Start", "End", "Amount paid",
               "Tariff type", "Created"]
OCC_COLUMNS = ["Time", "Parking", "Space", "Vehicle", "Subscription", "Movement", "Source"]


def _book(title: str, columns: list[str]) -> tuple[Workbook, object]:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title)
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    from openpyxl.cell import WriteOnlyCell

    header = []
    for name in columns:
        cell = WriteOnlyCell(ws, value=name)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    return wb, ws


def _save(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _dt(s: str | None) -> datetime | None:
    """Excel holds naive times: the site's local time as recorded."""
    return datetime.fromisoformat(s).replace(tzinfo=None) if s else None


def subscriptions_xlsx(db: CloudDB, parkings: list[str], created_from: datetime | None,
                       created_to: datetime | None) -> bytes:
    """Subscriptions of *parkings* created in [from, to), oldest first."""
    wb, ws = _book("Subscriptions", SUB_COLUMNS)
    sql = (f"SELECT status, id, owner, parking, space, start, end, amount, unit, created_at "
           f"FROM subscriptions WHERE parking IN ({','.join('?' * len(parkings))})")
    args: list[object] = list(parkings)
    if created_from:
        sql += " AND created_at >= ?"
        args.append(created_from.isoformat())
    if created_to:
        sql += " AND created_at < ?"
        args.append(created_to.isoformat())
    for r in db.conn.execute(sql + " ORDER BY created_at, id", args):
        ws.append([r[0], r[1], r[2], r[3], r[4], _dt(r[5]), _dt(r[6]), r[7], r[8],  # type: ignore[attr-defined]
                   _dt(r[9])])
    return _save(wb)


def occupancy_xlsx(db: CloudDB, parking: str, since: datetime | None,
                   until: datetime | None) -> bytes:
    """Every vehicle in and out of *parking*'s spaces, oldest first."""
    wb, ws = _book("Occupancy", OCC_COLUMNS)
    sql = "SELECT at, parking, space, vrn, sub, inside, source FROM occupancy_log WHERE parking = ?"
    args: list[object] = [parking]
    if since:
        sql += " AND at >= ?"
        args.append(since.isoformat())
    if until:
        sql += " AND at < ?"
        args.append(until.isoformat())
    for r in db.conn.execute(sql + " ORDER BY at, rowid", args):
        ws.append([_dt(r[0]), r[1], r[2], r[3], r[4], "in" if r[5] else "out", r[6]])  # type: ignore[attr-defined]
    return _save(wb)
