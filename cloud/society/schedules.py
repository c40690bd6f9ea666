"""Time-of-day access profiles of a site: its time zone, its named schedules, and which
vehicles, tags and subscriptions keep to each. Every change is a rules change, so the gates
decide from the schedules offline (``edge.core.schedules``).

Refusals: ``invalid_timezone``, ``no_timezone`` (a schedule before the site's zone is set),
``invalid_schedule``, ``unknown_schedule``, ``schedule_in_use`` (a bound schedule is not
removed; unbind first), and ``unknown_vehicle`` / ``unknown_tag`` / ``unknown_subscription``
for a binding that names something the site does not have.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from pydantic import ValidationError

from cloud.errors import CloudError
from cloud.ledger import Ledger
from cloud.parking.rules import sub_rule
from cloud.refusals import Refusal
from cloud.society.rules import require_site, tag_rule, vehicle_rule
from cloud.society.schedule_rules import schedule_rule, site_schedules
from cloud.society.site_rules import settings_change
from cloud.storage import Database, Tx, society
from cloud.storage import schedules as store
from shared import schedule as schedule_rules
from shared import vrn as vrn_rules
from shared.clock import Clock
from shared.contract import (
    Change,
    RulesDelta,
    ScheduleDelete,
    ScheduleRule,
    ScheduleUpsert,
    SubscriptionUpsert,
    TagUpsert,
    VehicleUpsert,
)
from shared.parking import LIVE


def _require(c: Tx, site: str, name: str) -> None:
    if not store.exists(c, site, name):
        raise CloudError(404, Refusal.UNKNOWN_SCHEDULE, f"{site} has no schedule {name!r}")


class Schedules:
    """A site's time zone, schedules and what keeps to each; each change is a rules change."""

    def __init__(self, db: Database, clock: Clock, ledger: Ledger) -> None:
        self.db = db
        self.clock = clock
        self.ledger = ledger

    def set_timezone(self, site: str, timezone: str) -> RulesDelta:
        """Set the site's IANA time zone; the gates get every schedule again with it."""
        try:
            schedule_rules.zone(timezone)
        except ValueError as exc:
            raise CloudError(422, Refusal.INVALID_TIMEZONE, str(exc)) from exc

        def fn(c: Tx) -> list[Change]:
            society.set_site_timezone(c, site, timezone)
            return [*settings_change(c, site),
                    *(ScheduleUpsert(schedule=s) for s in site_schedules(c, site))]

        return self.ledger.change(site, fn)

    def put(self, site: str, name: str, windows: list[dict[str, Any]],
            holidays: list[date], label: str = "") -> RulesDelta:
        """Create or replace a named schedule of the site."""

        def fn(c: Tx) -> list[Change]:
            tz = society.site_timezone(c, site)
            if tz is None:
                raise CloudError(422, Refusal.NO_TIMEZONE,
                                 f"set the time zone of {site} first (PUT "
                                 f"/api/v1/sites/{site}/timezone)")
            try:
                rule = ScheduleRule(name=name, timezone=tz, windows=windows, holidays=holidays,
                                    label=label)
            except ValidationError as exc:
                msg = "; ".join(": ".join(filter(None, (".".join(str(p) for p in e["loc"]),
                                                        e["msg"].removeprefix("Value error, "))))
                                for e in exc.errors())
                raise CloudError(422, Refusal.INVALID_SCHEDULE, msg) from exc
            store.upsert(c, site, name, label, json.dumps([w.model_dump() for w in rule.windows]),
                         json.dumps(sorted({d.isoformat() for d in rule.holidays})),
                         self.clock.now().isoformat())
            return [ScheduleUpsert(schedule=rule)]

        return self.ledger.change(site, fn)

    def remove(self, site: str, name: str) -> RulesDelta:
        """Delete a schedule nothing is bound to."""

        def fn(c: Tx) -> list[Change]:
            _require(c, site, name)
            used = {k: n for k, n in store.usage(c, site, name).items() if n}
            if used:
                raise CloudError(409, Refusal.SCHEDULE_IN_USE, f"{name} still binds " + ", ".join(
                    f"{n} {k}" for k, n in used.items()) + ": unbind them first")
            store.delete(c, site, name)
            return [ScheduleDelete(key=name)]

        return self.ledger.change(site, fn)

    def bind(self, site: str, name: str | None, vehicles: list[str],
             tags: list[str], subscriptions: list[str]) -> RulesDelta:
        """Bind vehicles, a group of tags and subscriptions of the site to schedule *name*
        (None: unbind them: any time), in one rules change; nothing changes if one of them is
        unknown."""

        def fn(c: Tx) -> list[Change]:
            if name is not None:
                _require(c, site, name)
            changes: list[Change] = []
            at = self.clock.now().isoformat()
            for raw in vehicles:
                v = vrn_rules.normalise(raw)
                row = society.vehicle(c, site, v) if society.set_vehicle_schedule(
                    c, site, v, name) else None
                if row is None:
                    raise CloudError(404, Refusal.UNKNOWN_VEHICLE,
                                     f"vehicle {v} is not registered at "
                                     f"{site}")
                changes.append(VehicleUpsert(vehicle=vehicle_rule(row)))
            for epc in tags:
                e = epc.upper()
                tag = society.tag(c, e) if society.set_tag_schedule(c, site, e, name, at) else None
                if tag is None:
                    raise CloudError(404, Refusal.UNKNOWN_TAG, f"tag {e} is not a tag of {site}")
                changes.append(TagUpsert(tag=tag_rule(tag)))
            for sid in subscriptions:
                sub = store.bind_subscription(c, site, sid, name)
                if sub is None:
                    raise CloudError(404, Refusal.UNKNOWN_SUBSCRIPTION,
                                     f"subscription {sid} is not "
                                     f"of a parking of {site}")
                if sub["status"] in LIVE:  # the gates hold live subscriptions only
                    changes.append(SubscriptionUpsert(subscription=sub_rule(c, sub)))
            return changes

        return self.ledger.change(site, fn)

    def of_site(self, site: str) -> dict[str, Any]:
        """The site's zone and schedules, each with what is bound to it."""
        with self.db.read() as c:
            require_site(c, site)
            tz = society.site_timezone(c, site)
            out = []
            for r in store.site_schedules(c, site):
                rule = schedule_rule(r, tz or "UTC")
                out.append({**rule.model_dump(mode="json"),
                            "describe": rule.to_schedule().describe(),
                            "bound": store.usage(c, site, r["name"])})
        return {"site": site, "timezone": tz, "schedules": out}
