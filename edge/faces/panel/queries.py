"""What the panel's pages read: the local event log, the rules cache, and the box's
state."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from edge.core.parking import inside_area
from edge.faces.panel.times import Times, zone_name
from edge.store.reads import EventFilter
from shared.cells import safe_cell
from shared.parking import standing, whole_units

if TYPE_CHECKING:
    from edge.faces.port import Box

__all__ = ["EventFilter", "alerts", "events", "events_csv", "local_times", "lookup"]

EPC = re.compile(r"^[0-9A-Fa-f]{8,62}$")
# ``at`` stays ISO 8601 in UTC for machines; ``local_time`` is the same moment on the site's
# clock in words a person reads, ``time_zone`` names that clock.
CSV_COLUMNS = ["id", "at", "gate", "type", "outcome", "reason", "vrn", "credential", "detail",
               "guard", "local_time", "time_zone"]


def events(box: Box, f: EventFilter) -> list[dict[str, Any]]:
    """Logged events matching *f*, newest first, as the pages show them."""
    assert box.reads
    out = []
    for e in box.reads.events(f):
        guard = e.data.get("guard") or {}
        out.append({"id": f"{e.gate}:{e.seq}", "at": e.at, "gate": e.gate, "type": e.type,
                    "outcome": e.outcome, "reason": e.reason, "vrn": e.vrn,
                    "credential": e.credential,
                    "detail": e.data.get("detail") or e.data.get("alert") or e.data.get("error")
                    or "", "guard": guard.get("user", ""), "data": e.data})
    return out


def local_times(rows: list[dict[str, Any]], times: Times) -> list[dict[str, Any]]:
    """The rows with their time on their site's clock, for an export."""
    return [{**r, "local_time": times.stamp(r["at"], r["gate"]),
             "time_zone": zone_name(times.zone(r["gate"]))} for r in rows]


def events_csv(rows: list[dict[str, Any]]) -> str:
    """The rows as CSV with a header line."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, CSV_COLUMNS, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: safe_cell(r.get(k)) if r.get(k) is not None else "" for k in CSV_COLUMNS})
    return buf.getvalue()


def lookup(box: Box, query: str) -> list[dict[str, Any]]:
    """Vehicles matching a plate, a tag or a flat, with their tags, locks and inside/outside
    state."""
    assert box.cache and box.presence and box.reads
    q = query.strip()
    if not q:
        return []
    now = box.clock.now()
    vrns: dict[str, str | None] = {}
    if EPC.match(q) and (t := box.cache.tag(q.upper())) is not None:
        vrns[t.vrn or f"tag {t.epc}"] = t.site
    for in_site, plate in box.reads.plates_matching(q):
        vrns.setdefault(plate, in_site)
    out = []
    for vrn, site in vrns.items():
        tags = box.cache.tags_of(vrn) if not vrn.startswith("tag ") else \
            [t for t in [box.cache.tag(vrn[4:])] if t]
        row = box.reads.vehicle(vrn)
        subs = _subscriptions(box, vrn, now)
        bound = {*(t.schedule for t in tags), *(s["schedule"] for s in subs),
                 row.schedule if row else None} - {None}
        out.append({
            "vrn": vrn, "site": site, "type": row.type if row else None,
            "flat": row.flat if row else None,
            "inside": box.presence.is_inside(vrn),
            "tags": [{"epc": t.epc, "status": t.status.value, "locked": t.is_locked(now),
                      "locked_until": t.locked_until.isoformat() if t.locked_until else None,
                      "schedule": t.schedule}
                     for t in tags],
            "last": events(box, EventFilter(plate=vrn, type="decision", limit=5)),
            "subscriptions": subs,
            "schedules": [_schedule(box, site, str(n), now) for n in sorted(bound)],
        })
    return out


def _schedule(box: Box, site: str | None, name: str,
              now: datetime) -> dict[str, Any]:
    """A schedule the vehicle keeps to, in words, and whether it lets the vehicle in now."""
    assert box.cache
    sched = box.cache.schedule(site or "", name)
    if sched is None:
        return {"name": name, "label": name, "text": "not on this box yet", "open_now": False,
                "tz": ""}
    return {"name": name, "label": sched.label or name, "text": sched.describe(),
            "open_now": sched.allows(now), "tz": sched.tz}


def _subscriptions(box: Box, vrn: str, now: datetime) -> list[dict[str, Any]]:
    """The vehicle's cached subscriptions: status now, debt, inside its parking or not."""
    assert box.cache and box.presence
    out = []
    for s in box.cache.subscriptions(None, vrn):
        inside = any(inside_area(box.presence.is_inside, s.parking, v) for v in s.vrns)
        st = standing(s.status, s.start, s.end, s.paid_through, s.unit,  # type: ignore[arg-type]
                      inside, now, continued=s.continued)
        owed = whole_units(now - s.paid_through, s.unit) * s.debt_price  # type: ignore[arg-type]
        out.append({"id": s.id, "parking": s.parking, "space": s.space, "status": st.status,
                    "start": s.start.isoformat(), "end": s.end.isoformat(),
                    "debt": owed if st.status == "overdue" else 0,
                    "exit_until": st.exit_until.isoformat() if st.exit_until else None,
                    "inside": bool(inside_area(box.presence.is_inside, s.parking, vrn)),
                    "schedule": s.schedule})
    return out


def alerts(box: Box, limit: int = 200) -> dict[str, Any]:
    """What needs a guard's attention now, and the alert history."""
    health = box.health()
    now: list[str] = []
    if not health["cloud_connected"]:
        now.append("Cloud link down: decisions go on from the local cache; events wait "
                   f"in the outbox ({health['outbox']}).")
    for g in health["gates"]:
        for device in ("reader", "relay", "keypad"):
            if g.get(f"{device}_ok") is False:
                now.append(f"{g['id']}: {device} down")
    for gate_id, cam in health["cameras"].items():
        if not cam.get("connected", True):
            now.append(f"{gate_id}: camera down")
    if health["disk"].get("low"):
        now.append(f"Disk space low: {health['disk']['free_mb']} MB free, under the "
                   f"{health['disk']['floor_mb']} MB floor; photos and old history were "
                   "removed, unsent events are kept.")
    history = [e for e in events(box, EventFilter(type="alert", limit=limit))]
    history += [e for e in events(box, EventFilter(type="fault", limit=limit))
                if e["data"].get("state") == "down"]
    history.sort(key=lambda e: e["at"], reverse=True)
    return {"now": now, "history": history[:limit]}
