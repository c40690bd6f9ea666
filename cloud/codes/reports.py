"""Reports of access codes, in CSV and Excel, for the society's office and the bureau that
prints codes on the maintenance receipts: codes **per unit** (by site, unit), **per committee
member** (by site, role), **per tenant** (by site, unit), and the **check report**. They hold
the codes in clear (that is what the bureau prints): admins only."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from cloud.codes import eligibility
from cloud.errors import CloudError
from cloud.parking.reports import SheetLocale
from cloud.refusals import Refusal
from cloud.storage import Database, residents
from cloud.storage import codes as store
from shared.cells import safe_cell

BY = ("unit", "committee", "tenant")
CODE_COLUMNS = ["Site", "Unit", "Holder", "Name", "Phone", "Role", "Code", "Status", "Regime",
                "Issued", "Activate by", "Activated", "Valid until", "Courtesy until",
                "Paid through"]
CODE_DATES = {9, 10, 11, 12, 13, 14}
# On the sheet's clock, named in the Excel header; the other two are the ends of paid days,
# shown as recorded (on the sheet's clock, the end of a day in UTC is the next morning east
# of it).
CODE_MOMENTS = {9, 10, 11, 12}
CHECK_COLUMNS = ["Site", "Unit", "Resident", "Name", "Issue", "Detail"]


def sheet_of(db: Database, sites: Sequence[str]) -> SheetLocale:
    """The clock a codes report of *sites* is on (their zone, or UTC where they differ)."""
    with db.read() as c:
        return SheetLocale.of_sites(c, list(sites))


def code_rows(db: Database, sites: Sequence[str], by: str, today: date,
              sheet: SheetLocale | None = None) -> list[list[Any]]:
    """The rows of a codes report: one per code, in the report's order; times on *sheet*'s
    clock (``sheet_of``), with their offset."""
    if by not in BY:
        raise CloudError(422, Refusal.BAD_REPORT, f"codes are reported by {', '.join(BY)}")
    sheet = sheet or sheet_of(db, sites)
    out: list[tuple[tuple[Any, ...], list[Any]]] = []
    with db.read() as c:
        for site in sites:
            seats = {m["resident"]: m for m in store.members(c, site)}
            roles = {(r["id"], r["flat"]): r["role"] for r in residents.of_site(c, site)}
            paid = store.payments(c, site)
            for r in store.report_rows(c, [site]):
                role = roles.get((r["holder"], r["flat"]), "")
                seat = seats.get(r["holder"])
                if by == "committee":
                    if seat is None:
                        continue
                    role = f"committee: {seat['role']}" + \
                        ("" if eligibility.mandate_live(seat, today) else " (mandate not live)")
                elif by == "tenant" and role != "tenant":
                    continue
                pay = paid.get(r["holder"]) if r["regime"] == "subscription" else None
                key = (site, seat["role"] if by == "committee" and seat else "",
                       r["flat"] or "", r["holder_name"], r["issued_at"])
                out.append((key, [site, r["flat"], r["holder"], r["holder_name"],
                                  r["holder_phone"], role, r["code"], r["status"], r["regime"],
                                  sheet.aware(r["issued_at"]), sheet.aware(r["activate_by"]),
                                  sheet.aware(r["activated_at"]), sheet.aware(r["valid_until"]),
                                  as_recorded(pay["courtesy_until"]) if pay else None,
                                  as_recorded(pay["paid_through"]) if pay else None]))
    return [row for _, row in sorted(out, key=lambda x: x[0])]


def check_rows(db: Database, sites: Sequence[str], today: date) -> list[list[Any]]:
    """The rows of the check report of *sites*."""
    with db.read() as c:
        return [[x["site"], x["flat"], x["resident"], x["name"], x["issue"], x["detail"]]
                for site in sites for x in eligibility.check(c, site, today)]


def as_recorded(s: str | None) -> datetime | None:
    """A stored time with the offset it was recorded with."""
    return datetime.fromisoformat(s) if s else None


def as_csv(columns: list[str], rows: Iterable[list[Any]]) -> str:
    """A report as CSV (times in ISO 8601 with their offset, text quoted where it must be)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(columns)
    for row in rows:
        w.writerow(["" if v is None else v.isoformat(timespec="minutes")
                    if isinstance(v, datetime) else safe_cell(v) for v in row])
    return buf.getvalue()
