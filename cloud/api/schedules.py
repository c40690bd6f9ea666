"""Routes of the time-of-day access profiles: a site's time zone, its named schedules, and
which vehicles, tags and subscriptions keep to them."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import SchedulesDep
from cloud.api.limits import BULK_BODY_MAX
from cloud.errors import ERROR_RESPONSES
from shared.contract import RulesDelta, ScheduleWindow


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TimezoneIn(_In):
    timezone: str = Field(max_length=64, description="IANA time zone, e.g. Asia/Kolkata")


class ScheduleIn(_In):
    windows: list[ScheduleWindow] = Field(max_length=50, description="days and HH:MM ranges; "
                                          "an end before the start runs past midnight")
    holidays: list[date] = Field(default_factory=list, max_length=1000,
                                 description="dates on which no window starts")
    label: str = Field("", max_length=200, description="what guards read, e.g. 'Helpers'")


class BindIn(_In):
    schedule: str | None = Field(description="the schedule's name; null unbinds (any time)")
    vehicles: list[str] = Field(default_factory=list, max_length=100_000, description="VRNs")
    tags: list[str] = Field(default_factory=list, max_length=100_000,
                            description="EPCs: a group of tags keeping to one schedule")
    subscriptions: list[str] = Field(default_factory=list, max_length=100_000,
                                     description="ids of subscriptions of the site's parkings")


def _version(delta: RulesDelta) -> dict:
    return {"site": delta.site, "rules_version": delta.to_version}


router = APIRouter(prefix="/api/v1/sites/{site}", responses=ERROR_RESPONSES)


@router.put("/timezone")
def set_timezone(schedules: SchedulesDep, site: str, body: TimezoneIn) -> dict:
    """Set the site's time zone; schedules are read on its wall clock."""
    return _version(schedules.set_timezone(site, body.timezone))


@router.get("/schedules")
def list_schedules(schedules: SchedulesDep, site: str) -> dict:
    """The site's time zone and schedules, each with what is bound to it."""
    return schedules.of_site(site)


@router.put("/schedules/{name}")
def put_schedule(schedules: SchedulesDep, site: str, name: str, body: ScheduleIn) -> dict:
    """Create or replace a named schedule."""
    return _version(schedules.put(
        site, name, [w.model_dump() for w in body.windows], body.holidays,
        body.label))


@router.delete("/schedules/{name}")
def remove_schedule(schedules: SchedulesDep, site: str, name: str) -> dict:
    """Delete a schedule nothing is bound to."""
    return _version(schedules.remove(site, name))


@router.post("/schedule-bindings", max_body_size=BULK_BODY_MAX)
def bind(schedules: SchedulesDep, site: str, body: BindIn) -> dict:
    """Bind (or with ``schedule: null`` unbind) vehicles, tags and subscriptions in one
    rules change."""
    return _version(schedules.bind(site, body.schedule, body.vehicles, body.tags,
                                   body.subscriptions))

