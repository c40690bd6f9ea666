"""Routes of the people behind access codes (admin): a site's committee and its mandates, what
people have paid for subscription codes, the check report, the codes reports (CSV and Excel),
and the daily renewal job run on demand (docs/codes.md)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import ClockDep, DatabaseDep, HoldersDep, JobsDep
from cloud.codes import reports
from cloud.codes.holders import CodeHolders
from cloud.errors import ERROR_RESPONSES
from cloud.parking.reports import workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeatIn(_In):
    role: str = Field("member", min_length=1, max_length=40, description="president, "
                      "secretary, treasurer, member…")
    flat: str | None = Field(None, max_length=20, description="the unit the member stands for")
    external: bool = Field(False, description="an external professional (not a resident of "
                           "the unit, e.g. for a company that owns it)")
    mandate_start: date | None = None
    mandate_end: date | None = None


class PaidIn(_In):
    resident: str = Field(max_length=20)
    paid_through: date = Field(description="the last day the receipt's item covers")


router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


@router.put("/sites/{site}/committee/{resident}")
def seat(holders: HoldersDep, site: str, resident: str, body: SeatIn) -> dict[str, Any]:
    """Seat a resident on the site's committee with a mandate (or change the seat)."""
    return holders.seat(site, resident, body.role, body.flat, body.external,
                        body.mandate_start, body.mandate_end)


@router.delete("/sites/{site}/committee/{resident}")
def unseat(holders: HoldersDep, site: str, resident: str) -> dict[str, Any]:
    """A member leaves the committee."""
    return holders.unseat(site, resident)


@router.get("/sites/{site}/committee")
def committee(holders: HoldersDep, site: str) -> dict[str, Any]:
    """The site's committee, each seat with whether its mandate is live today."""
    return {"site": site, "committee": holders.committee(site)}


@router.post("/sites/{site}/codes/payments")
def pay(holders: HoldersDep, site: str, body: PaidIn) -> dict[str, Any]:
    """Record a person's subscription codes as paid up to a day."""
    return holders.pay(site, body.resident, body.paid_through)


@router.get("/sites/{site}/codes/check")
def check(holders: HoldersDep, site: str) -> dict[str, Any]:
    """The check report: what keeps the site's people from their codes."""
    return {"site": site, "issues": holders.check(site)}


def _sites(holders: CodeHolders, sites: str) -> list[str]:
    ids = [s for s in sites.split(",") if s]
    for s in ids:
        holders.committee(s)  # 404 unknown_site
    return ids


def _file(name: str, fmt: str, data: str | bytes) -> Response:
    return Response(data, media_type=XLSX if fmt == "xlsx" else "text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


@router.get("/reports/codes.{fmt}")
def report_codes(holders: HoldersDep, db: DatabaseDep, clock: ClockDep,
                 fmt: Literal["csv", "xlsx"], sites: str = Query(..., max_length=4000),
                 by: str = Query("unit", description="unit, committee or tenant")
                 ) -> Response:
    """The codes of the chosen sites (comma-separated), in clear, per unit (by site,
    unit), per committee member (by site, role) or per tenant (by site, unit)."""
    chosen = _sites(holders, sites)
    sheet = reports.sheet_of(db, chosen)
    rows = reports.code_rows(db, chosen, by, clock.now().date(), sheet)
    data = reports.as_csv(reports.CODE_COLUMNS, rows) if fmt == "csv" else \
        workbook("Codes", sheet.headers(reports.CODE_COLUMNS, reports.CODE_MOMENTS, set()),
                 rows, reports.CODE_DATES)
    return _file(f"codes-by-{by}", fmt, data)


@router.get("/reports/codes-check.{fmt}")
def report_check(holders: HoldersDep, db: DatabaseDep, clock: ClockDep,
                 fmt: Literal["csv", "xlsx"], sites: str = Query(..., max_length=4000)
                 ) -> Response:
    """The check report of the chosen sites."""
    rows = reports.check_rows(db, _sites(holders, sites), clock.now().date())
    data = reports.as_csv(reports.CHECK_COLUMNS, rows) if fmt == "csv" else \
        workbook("Check", reports.CHECK_COLUMNS, rows, set())
    return _file("codes-check", fmt, data)


@router.post("/jobs/codes-renewal")
def renewal(jobs: JobsDep) -> dict[str, Any]:
    """Run the daily renewal job over access codes now."""
    return {"codes": jobs.run_codes()}

