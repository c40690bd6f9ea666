"""Routes of the time-of-day access profiles: a site's time zone, its named schedules, and
which vehicles, tags and subscriptions keep to them."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.limits import BULK_BODY_MAX
from cloud.errors import ERROR_RESPONSES
from cloud.society import schedules
from cloud.society.rules import RulesService
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


def schedules_router(rules: RulesService) -> APIRouter:
    """The schedules' routes (staff with the admin role)."""
    r = APIRouter(prefix="/api/v1/sites/{site}", responses=ERROR_RESPONSES)

    @r.put("/timezone")
    def set_timezone(site: str, body: TimezoneIn) -> dict:
        """Set the site's time zone; schedules are read on its wall clock."""
        return _version(schedules.set_timezone(rules, site, body.timezone))

    @r.get("/schedules")
    def list_schedules(site: str) -> dict:
        """The site's time zone and schedules, each with what is bound to it."""
        return schedules.list_schedules(rules, site)

    @r.put("/schedules/{name}")
    def put_schedule(site: str, name: str, body: ScheduleIn) -> dict:
        """Create or replace a named schedule."""
        return _version(schedules.put_schedule(
            rules, site, name, [w.model_dump() for w in body.windows], body.holidays,
            body.label))

    @r.delete("/schedules/{name}")
    def remove_schedule(site: str, name: str) -> dict:
        """Delete a schedule nothing is bound to."""
        return _version(schedules.remove_schedule(rules, site, name))

    @r.post("/schedule-bindings", max_body_size=BULK_BODY_MAX)
    def bind(site: str, body: BindIn) -> dict:
        """Bind (or with ``schedule: null`` unbind) vehicles, tags and subscriptions in one
        rules change."""
        return _version(schedules.bind(rules, site, body.schedule, body.vehicles, body.tags,
                                       body.subscriptions))

    return r
