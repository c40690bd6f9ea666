"""Every router of the cloud's API, in the order the app includes them (a route of an earlier
router answers first where two could match)."""

from __future__ import annotations

from fastapi import APIRouter

from cloud.api import (
    cameras,
    code_people,
    codes,
    events,
    fleet,
    inventory,
    me,
    metrics,
    parking,
    partners,
    residents,
    schedules,
    society,
    staff,
    visitors,
)

ROUTERS: tuple[APIRouter, ...] = (
    staff.router, fleet.router, parking.router, cameras.router, society.router,
    schedules.router, residents.router, me.router, inventory.router, partners.router,
    codes.router, code_people.router, visitors.router, events.router, metrics.router)
