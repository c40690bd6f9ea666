"""Time-of-day access profiles at the gate (pure): an entry outside the schedules that bind
the vehicle is refused with ``outside_schedule``.

The schedules that bind an entry are the vehicle's own (a registered vehicle of the site), the
credential's tag's, or for a plate the schedules of the vehicle's active tags of the site (a
group of tags shares one), and at a parking the schedule of the subscription the open rests on.
Every one of them must allow the entry now, on the site's wall clock (``shared.schedule``).

Exits are never refused by a schedule: a helper who came in at 18:55 leaves at 19:10. A
schedule the box does not hold (its rules are behind) refuses the entry: the box never opens
on a binding it cannot check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from edge.core.types import CacheView, Decision
from shared.vocab import REASON_OUTCOMES, Direction, Reason, TagStatus


def bound(site: str, vrn: str | None, own: Iterable[str] | None, sub_schedule: str | None,
          view: CacheView) -> list[str]:
    """The names of the schedules an entry of *vrn* keeps to, each once, in a stable order.
    *own*: the credential's tags' schedules; None: those of the vehicle's active tags of the
    site, read now (a plate at a parking barrier, whose decision did not read its tags)."""
    if own is None:
        own = [t.schedule for t in view.vehicle_tags(vrn) if t.site == site and t.schedule
               and t.status is TagStatus.ACTIVE] if vrn else []
    names = list(own)
    if vrn and (name := view.vehicle_schedule(site, vrn)):
        names.append(name)
    if sub_schedule:
        names.append(sub_schedule)
    return sorted(set(names))


def keep_to(decision: Decision, site: str, vrn: str | None, own: Iterable[str] | None,
            sub_schedule: str | None, view: CacheView, now: datetime) -> Decision:
    """The decision, or ``outside_schedule`` when it opens for an entry that one of the
    schedules binding the vehicle (``bound``) does not allow now. Only an open entry reads
    them: the rest of the decision path pays nothing."""
    if not decision.opens or decision.direction is not Direction.ENTRY:
        return decision
    for name in bound(site, vrn, own, sub_schedule, view):
        sched = view.schedule(site, name)
        if sched is None:
            detail = f"schedule {name} is not on this box yet"
        elif not sched.allows(now):
            local = sched.local(now)
            detail = (f"{sched.label or name}: {sched.describe()}; now "
                      f"{local:%a %H:%M} {sched.tz}")
        else:
            continue
        return replace(decision, outcome=REASON_OUTCOMES[Reason.OUTSIDE_SCHEDULE],
                       reason=Reason.OUTSIDE_SCHEDULE, detail=detail, schedule=name,
                       subscription=None)
    return decision
