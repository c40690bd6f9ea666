"""Routes of what the boxes sent: stored events, their summary, and the process's health."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query

from cloud.api.deps import DatabaseDep, LinkDep, RejectedDep, RulesDep, SettingsDep
from cloud.errors import ERROR_RESPONSES
from cloud.storage import events as store

router = APIRouter(responses=ERROR_RESPONSES)


@router.get("/api/v1/health")
def health(rules: RulesDep, link: LinkDep, settings: SettingsDep, rejected: RejectedDep) -> dict:
    """Broker connection and counters of the process that answers (``worker``: its MQTT
    client id; with several processes, each answers for itself)."""
    return {"mqtt_connected": bool(link and link.connected.is_set()),
            "worker": settings.mqtt_client_id,
            "events_queued": link.writer.depth if link else 0,
            "counters": (link.counters.snapshot() if link else {})
            | {"rejected_requests": rejected["requests"]},
            "rules": rules.versions(), "rules_epoch": rules.epoch()}


@router.get("/api/v1/events")
def events(db: DatabaseDep,
           site: str | None = None, gate: str | None = None, type: str | None = None,
           since: datetime | None = None, until: datetime | None = None,
           limit: int = Query(1000, ge=1, le=100000),
           offset: int = Query(0, ge=0, le=2**53)) -> dict:
    """Stored events, oldest first, filtered by site, gate, type and time."""
    return {"events": store.query(db.conn, site, gate, type, since, until, limit, offset)}


@router.get("/api/v1/sites/{site}/events/summary")
def summary(db: DatabaseDep, site: str) -> dict:
    """Counts per event type, and decisions per outcome."""
    return {"site": site, **store.summary(db.conn, site)}

