"""What the panel's pages read: the local event log, the rules cache, and the box's
state."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from edge.core.parking import inside_area
from edge.faces.panel.times import Times, zone_name
from edge.store.outbox import joined
from shared import vrn as vrn_rules
from shared.cells import safe_cell
from shared.parking import standing, whole_units

if TYPE_CHECKING:
    from edge.faces.port import Box

EPC = re.compile(r"^[0-9A-Fa-f]{8,62}$")
# ``at`` stays ISO 8601 in UTC for machines; ``local_time`` is the same moment on the site's
# clock in words a person reads, ``time_zone`` names that clock.
CSV_COLUMNS = ["id", "at", "gate", "type", "outcome", "reason", "vrn", "credential", "detail",
               "guard", "local_time", "time_zone"]


@dataclass(frozen=True)
class EventFilter:
    """The Events page's filters; empty fields match everything."""

    since: datetime | None = None
    until: datetime | None = None
    gate: str = ""
    outcome: str = ""
    reason: str = ""
    plate: str = ""
    tag: str = ""
    type: str = ""
    limit: int = 500

    def where(self) -> tuple[str, list[Any]]:
        """SQL conditions and arguments over the event log."""
        conds: list[str] = []
        args: list[Any] = []
        # The log's times are ISO 8601 in UTC, compared as text: a bound is put in UTC too.
        if self.since:
            conds.append("at >= ?")
            args.append(_utc(self.since))
        if self.until:
            conds.append("at <= ?")
            args.append(_utc(self.until))
        for column, value in (("gate", self.gate), ("outcome", self.outcome),
                              ("reason", self.reason), ("type", self.type)):
            if value:
                conds.append(f"{column} = ?")
                args.append(value)
        if self.plate:
            conds.append("vrn LIKE ?")
            args.append(f"%{vrn_rules.normalise(self.plate)}%")
        if self.tag:
            conds.append("credential LIKE ?")
            args.append(f"%{self.tag.strip().upper()}%")
        return (" WHERE " + " AND ".join(conds)) if conds else "", args


def _utc(t: datetime) -> str:
    return (t.astimezone(UTC) if t.tzinfo else t).isoformat()


def events(box: Box, f: EventFilter) -> list[dict[str, Any]]:
    """Logged events matching *f*, newest first."""
    assert box.db
    where, args = f.where()
    rows = box.db.conn.execute(
        f"SELECT gate, seq, at, type, outcome, reason, vrn, credential, rest FROM events"
        f"{where} ORDER BY at DESC, n DESC LIMIT ?", (*args, f.limit)).fetchall()
    out = []
    for r in rows:
        data = joined(r[4], r[5], r[6], r[7], r[8])
        guard = data.get("guard") or {}
        out.append({"id": f"{r[0]}:{r[1]}", "at": r[2], "gate": r[0], "type": r[3],
                    "outcome": r[4], "reason": r[5], "vrn": r[6], "credential": r[7],
                    "detail": data.get("detail") or data.get("alert") or data.get("error")
                    or "", "guard": guard.get("user", ""), "data": data})
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
    assert box.cache and box.presence and box.db
    q = query.strip()
    if not q:
        return []
    now = box.clock.now()
    vrns: dict[str, str | None] = {}
    if EPC.match(q) and (t := box.cache.tag(q.upper())) is not None:
        vrns[t.vrn or f"tag {t.epc}"] = t.site
    plate = vrn_rules.normalise(q)
    for site, vrn in box.db.conn.execute(
            "SELECT site, vrn FROM vehicles WHERE vrn LIKE ? OR upper(flat) = upper(?) UNION "
            "SELECT s.site, v.vrn FROM sub_vehicles v JOIN subscriptions s ON s.id = v.sub "
            "WHERE v.vrn LIKE ? ORDER BY 2 LIMIT 20", (f"%{plate}%", q, f"%{plate}%")):
        vrns.setdefault(vrn, site)
    out = []
    for vrn, site in vrns.items():
        tags = box.cache.tags_of(vrn) if not vrn.startswith("tag ") else \
            [t for t in [box.cache.tag(vrn[4:])] if t]
        row = box.db.conn.execute("SELECT type, flat, schedule FROM vehicles WHERE vrn = ?",
                                     (vrn,)).fetchone()
        subs = _subscriptions(box, vrn, now)
        bound = {*(t.schedule for t in tags), *(s["schedule"] for s in subs),
                 row[2] if row else None} - {None}
        out.append({
            "vrn": vrn, "site": site, "type": row[0] if row else None,
            "flat": row[1] if row else None,
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
