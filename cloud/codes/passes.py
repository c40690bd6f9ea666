"""Visitor passes: what a resident issues to a guest, a cab, a delivery or a helper.

A pass is a code in the site's alphabet, active at once for its time window. It is single-use
(spent by its first entry) unless it is **recurring**: a helper's pass names the days of the week
and the hours it opens for (``days``, ``start``, ``end``), or one of the site's schedules. The
days and hours become a schedule of the site named after the pass (``pass-P-…``, on the site's
clock, so the site needs its time zone), which the gates hold like any other; the pass keeps to
it, and it goes when the pass is cancelled, spent or expired.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from cloud.codes.keys import Hashed, take
from cloud.codes.pass_schedules import own_schedule
from cloud.errors import CloudError
from cloud.refusals import Refusal
from cloud.storage import Database, Row, Tx, residents, society
from cloud.storage import codes as store
from cloud.storage import schedules as schedule_store
from shared.contract import Change, ScheduleRule, ScheduleUpsert

if TYPE_CHECKING:
    from cloud.codes import Codes
    from shared.clock import Clock

VISITOR_KINDS = ("guest", "cab", "delivery", "helper")


@dataclass(frozen=True)
class PassRequest:
    """What a resident asks for."""

    kind: str
    name: str
    valid_from: datetime
    valid_until: datetime
    phone: str | None = None
    vrn: str | None = None
    single_use: bool = True
    site: str | None = None
    days: list[str] = field(default_factory=list)  # a recurring pass's days of the week
    start: str | None = None  # and its hours, HH:MM to HH:MM on the site's clock
    end: str | None = None
    schedule: str | None = None  # or one of the site's schedules


def _recurrence(c: Tx, site: str, code_id: str, req: PassRequest, at: datetime
                ) -> tuple[str | None, list[Change]]:
    """The schedule a pass keeps to, and the change that gives the gates a new one."""
    if req.schedule:
        if req.days:
            raise CloudError(422, Refusal.BAD_PASS, "a pass keeps to a schedule or to its own days "
                             "and hours, not both")
        if not schedule_store.exists(c, site, req.schedule):
            raise CloudError(404, Refusal.UNKNOWN_SCHEDULE,
                             f"{site} has no schedule {req.schedule}")
        return req.schedule, []
    if not req.days:
        if req.start or req.end:
            raise CloudError(422, Refusal.BAD_PASS, "hours need the days of the week they hold on")
        return None, []
    tz = society.site_timezone(c, site)
    if tz is None:
        raise CloudError(422, Refusal.NO_TIMEZONE, f"set the time zone of {site} first: a pass's "
                         "hours are on the site's clock")
    name = own_schedule(code_id)
    try:
        rule = ScheduleRule(name=name, timezone=tz, label=f"{req.kind} pass for {req.name}",
                            windows=[{"days": req.days, "start": req.start or "00:00",
                                      "end": req.end or "24:00"}])
    except ValidationError as exc:
        raise CloudError(422, Refusal.BAD_PASS, "days are mon…sun and hours HH:MM: " + "; ".join(
            e["msg"] for e in exc.errors())) from exc
    schedule_store.upsert(c, site, name, rule.label,
                          json.dumps([w.model_dump() for w in rule.windows]), "[]",
                          at.isoformat())
    return name, [ScheduleUpsert(schedule=rule)]


def issue(codes: Codes, db: Database, clock: Clock, resident: str, req: PassRequest
          ) -> dict[str, Any]:
    """A resident issues a visitor a pass for a time window: active at once (through
    *codes*, over its *db* and *clock*)."""
    if req.kind not in VISITOR_KINDS:
        raise CloudError(422, Refusal.BAD_PASS, f"a visitor is a {', '.join(VISITOR_KINDS)}")
    start, until = req.valid_from.astimezone(UTC), req.valid_until.astimezone(UTC)
    if until <= start or until <= clock.now():
        raise CloudError(422, Refusal.BAD_PASS, "a pass ends after it starts, in the future")
    recurring = bool(req.days or req.schedule)
    with db.read() as c:
        sites = sorted({f["site"] for f in residents.flats(c, resident)})
    site = req.site
    if site is None:
        if len(sites) != 1:
            raise CloudError(422, Refusal.SITE_REQUIRED, "say which society the pass is for")
        site = sites[0]

    def fn(c: Tx, cfg: Row, pool: Hashed, out: dict[str, Any]) -> list[Change]:
        flat = codes.flat_of(c, resident, site)
        now = clock.now()
        code, digest = take(c, cfg, pool, now)
        cid = f"P-{secrets.token_hex(6).upper()}"
        schedule, changes = _recurrence(c, site, cid, req, now)
        store.insert(c, (cid, site, "visitor", resident, code, digest, "active",
                         now.isoformat(), None, now.isoformat(), start.isoformat(),
                         until.isoformat(), int(req.single_use and not recurring), schedule,
                         flat, req.vrn.upper() if req.vrn else None,
                         f"{req.kind}: {req.name.strip()}", req.kind, req.phone,
                         f"resident:{resident}", None, int(cfg["code_generation"])))
        return changes + codes.issued(c, cid, out)

    return codes.with_codes(site, lambda c, cfg: 1, fn, {})

