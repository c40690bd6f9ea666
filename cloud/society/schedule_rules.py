"""What the gates get of a site's schedules (``ScheduleRule``), built from the cloud's rows;
each carries the site's time zone."""

from __future__ import annotations

import json

from cloud.storage import Row, Tx, schedules, society
from shared.contract import ScheduleRule


def schedule_rule(row: Row, timezone: str) -> ScheduleRule:
    """One stored schedule as the gates get it."""
    return ScheduleRule(name=row["name"], timezone=timezone, label=row["label"],
                        windows=json.loads(row["windows"]), holidays=json.loads(row["holidays"]))


def site_schedules(c: Tx, site: str) -> list[ScheduleRule]:
    """Every schedule of a site, by name."""
    tz = society.site_timezone(c, site)
    if tz is None:
        return []  # a schedule needs the site's zone: none can exist before it is set
    return [schedule_rule(r, tz) for r in schedules.site_schedules(c, site)]
