"""The cloud's HTTP API (FastAPI): sites, gates, vehicles, tags, rules snapshots, events."""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from cloud import accounts
from cloud.cameras import camera_router
from cloud.jobs import Jobs
from cloud.mqtt_side import CloudMqtt
from cloud.notify import Channels, Notifier
from cloud.parking import ParkingService
from cloud.parking_api import parking_router
from cloud.payments import HttpProvider
from cloud.rules import RuleError, RulesService
from cloud.settings import CloudSettings
from cloud.staff import Staff, install_auth, resident_of, staff_router
from cloud.storage import Database
from cloud.storage.dialect import json_text
from cloud.sub_changes import Subscriptions
from shared.clock import Clock, clock_from
from shared.commands import make_open
from shared.contract import RulesDelta, RulesSnapshot
from shared.locks import refusing_lock
from shared.sdnotify import notify, watchdog_interval_s
from shared.vocab import Direction, TagStatus, VehicleType

log = logging.getLogger(__name__)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SiteIn(_In):
    id: str = Field(description="Site id, [A-Za-z0-9_-]")
    name: str = ""


class GateIn(_In):
    id: str
    direction: Direction
    name: str = ""
    external_id: str | None = Field(None, description="the barrier's id in another system")


class VehicleIn(_In):
    vrn: str = Field(description="Registration number, e.g. MH12AB1234")
    type: VehicleType = VehicleType.W4
    flat: str | None = Field(None, max_length=40, description="its flat or unit, e.g. B-402")


class TagIn(_In):
    epc: str = Field(description="EPC as hex (96-bit: 24 digits)")
    vrn: str | None = None
    status: TagStatus = TagStatus.INACTIVE
    vehicle_type: VehicleType | None = None


class BulkTagsIn(_In):
    tags: list[dict[str, Any]] = Field(description="[{epc, vrn?, status?}, …]")


class BulkVehiclesIn(_In):
    vehicles: list[dict[str, Any]] = Field(description="[{vrn, type?, flat?}, …]")


class ActivateIn(_In):
    vrn: str | None = None


class OpenIn(_In):
    vrn: str | None = Field(None, description="the vehicle to let through, if known")
    by: str = Field("", description="who asks (staff id, resident id)")


class AccountIn(_In):
    username: str
    role: str = Field("guard", description="guard or supervisor")
    password: str = Field(description="at least 10 characters; only its scrypt hash is kept")


class LockIn(_In):
    until: datetime | None = Field(None, description="Locked until this time; none: until "
                                   "unlocked")


def _version(delta: RulesDelta) -> dict:
    return {"site": delta.site, "rules_version": delta.to_version}


def app_from_env() -> FastAPI:
    """The app of one worker process of ``gatepost cloud run --workers N`` (uvicorn's
    factory): its settings come from the ``GATEPOST_*`` environment its parent set."""
    return create_app(CloudSettings())


def channels_of(settings: CloudSettings) -> Channels:
    """Where notifications go, from the settings."""
    smtp = settings.smtp
    host, _, port = smtp.rpartition(":") if ":" in smtp else (smtp, "", "25")
    return Channels(webhook_url=settings.webhook_url, smtp_host=host,
                    smtp_port=int(port or 25), mail_from=settings.mail_from)


def create_app(settings: CloudSettings, clock: Clock | None = None) -> FastAPI:
    """The cloud app; starts its MQTT side with the app when the settings name a broker,
    and the subscription status job every ``jobs_every_s`` seconds (0: only on demand).
    *clock* overrides the settings' clock (tests)."""
    clock = clock or clock_from(settings.clock_file)
    db = Database(settings.database())
    link = CloudMqtt(db, clock, settings) if settings.mqtt_url else None
    rules = RulesService(db, clock, publish=link.publish_delta if link else None)
    parking = ParkingService(rules)
    subs = Subscriptions(parking)
    if settings.payments_url:
        subs.provider = HttpProvider(settings.payments_url)
        subs.payment_secret = settings.secret("payments_secret") or ""
        subs.callback_url = f"{settings.callback_base().rstrip('/')}/api/v1/payments/callback"
    staff = Staff(db, clock)
    admin_key = settings.secret("admin_key")
    if admin_key:
        staff.ensure("bootstrap admin", admin_key)
    notifier = Notifier(db, clock, channels_of(settings))
    jobs = Jobs(subs, settings.jobs_every_s, notifier)
    if link:
        link.on_stored.append(jobs.on_event)

    async def watchdog() -> None:
        # Pinged from the event loop itself: a wedged loop stops the pings and systemd
        # restarts the service.
        while True:
            notify("WATCHDOG=1")
            await asyncio.sleep(watchdog_interval_s())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if link:
            link.start(rules)
        jobs.start()
        pinger = asyncio.create_task(watchdog())
        notify("READY=1")
        yield
        notify("STOPPING=1")
        pinger.cancel()
        jobs.stop()
        if link:
            link.stop()
        db.close()

    app = FastAPI(title="Gatepost cloud", version="1", lifespan=lifespan)
    app.state.rules = rules
    app.state.link = link
    app.state.subs = subs
    app.state.jobs = jobs
    app.state.staff = staff
    install_auth(app, staff)
    app.include_router(staff_router(staff))
    app.state.notifier = notifier
    app.include_router(parking_router(parking, subs, jobs))
    app.include_router(camera_router(parking, subs))

    rejected: dict[str, int] = {"requests": 0}

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        rejected["requests"] += 1
        log.warning("rejected %s %s: %s", request.method, request.url.path,
                    str(exc.errors()[:3])[:300])
        return await request_validation_exception_handler(request, exc)

    @app.exception_handler(RuleError)
    async def rule_error(request: Request, exc: RuleError) -> JSONResponse:
        return JSONResponse(status_code=exc.status,
                            content={"detail": {"reason": exc.reason, "message": exc.message}})

    @app.get("/api/v1/health")
    def health() -> dict:
        """Broker connection and counters of the process that answers (``worker``: its MQTT
        client id; with several processes, each answers for itself)."""
        return {"mqtt_connected": bool(link and link.connected.is_set()),
                "worker": settings.mqtt_client_id,
                "events_queued": link.writer.depth if link else 0,
                "counters": (link.counters.snapshot() if link else {})
                | {"rejected_requests": rejected["requests"]},
                "rules": rules.versions()}

    @app.post("/api/v1/sites", status_code=201)
    def create_site(body: SiteIn) -> dict:
        """Create a site (society or parking)."""
        return rules.create_site(body.id, body.name or body.id)

    @app.post("/api/v1/sites/{site}/gates", status_code=201)
    def add_gate(site: str, body: GateIn) -> dict:
        """Add or update a gate."""
        return _version(rules.add_gate(site, body.id, body.direction, body.name,
                                       body.external_id))

    @app.post("/api/v1/sites/{site}/vehicles", status_code=201)
    def add_vehicle(site: str, body: VehicleIn) -> dict:
        """Register a vehicle by its VRN."""
        return _version(rules.add_vehicle(site, body.vrn, body.type, body.flat))

    @app.post("/api/v1/sites/{site}/vehicles/bulk", status_code=201)
    def add_vehicles_bulk(site: str, body: BulkVehiclesIn) -> dict:
        """Register many vehicles in one rules version."""
        return _version(rules.add_vehicles_bulk(site, body.vehicles))

    @app.delete("/api/v1/sites/{site}/vehicles/{vrn}")
    def remove_vehicle(site: str, vrn: str) -> dict:
        """Remove a vehicle (its tags become inactive)."""
        return _version(rules.remove_vehicle(site, vrn))

    @app.post("/api/v1/sites/{site}/tags", status_code=201)
    def add_tag(site: str, body: TagIn) -> dict:
        """Register a tag to the site."""
        return _version(rules.add_tag(site, body.epc, body.vrn, body.status, body.vehicle_type))

    @app.post("/api/v1/sites/{site}/tags/bulk", status_code=201)
    def add_tags_bulk(site: str, body: BulkTagsIn) -> dict:
        """Register many tags in one rules version."""
        return _version(rules.add_tags_bulk(site, body.tags))

    @app.get("/api/v1/tags/{epc}")
    def get_tag(epc: str) -> dict:
        """One tag."""
        return rules.tag(epc)

    @app.post("/api/v1/tags/{epc}/activate")
    def activate(epc: str, body: ActivateIn | None = None) -> dict:
        """Activate for a vehicle of the tag's site."""
        return _version(rules.activate_tag(epc, body.vrn if body else None))

    @app.post("/api/v1/tags/{epc}/block")
    def block(epc: str) -> dict:
        """Block (revoke) a tag."""
        return _version(rules.block_tag(epc))

    @app.post("/api/v1/tags/{epc}/lock")
    def lock(epc: str, body: LockIn | None = None) -> dict:
        """Lock a tag: entry allowed, exit denied."""
        return _version(rules.lock_tag(epc, body.until if body else None))

    @app.post("/api/v1/tags/{epc}/unlock")
    def unlock(epc: str) -> dict:
        """Unlock a tag at once."""
        return _version(rules.unlock_tag(epc))

    @app.delete("/api/v1/tags/{epc}")
    def remove(epc: str) -> dict:
        """Delete a tag."""
        return _version(rules.remove_tag(epc))

    @app.post("/api/v1/sites/{site}/gates/{gate}/open")
    def remote_open(site: str, gate: str, body: OpenIn, request: Request) -> dict:
        """Check the cloud's rules, send the gate a signed open, and return its answer.
        A resident's key opens only parking barriers, for the vehicle of a subscription it owns
        or is a user of."""
        g = rules.gate(site, gate)
        resident = resident_of(request)
        if resident and not g["parking"]:
            raise RuleError(403, "forbidden", "residents open parking barriers only")
        if g["parking"]:
            if not body.vrn:
                raise RuleError(409, "vehicle_required",
                                "a parking barrier opens only for a named vehicle")
            sid = subs.usable(g["parking"], body.vrn)
            if resident and not subs.may_use(sid, resident):
                raise RuleError(403, "forbidden", "not your subscription's vehicle")
            if resident:
                body = OpenIn(vrn=body.vrn, by=f"resident:{resident}")
        elif body.vrn:
            tags = rules.usable_tags(site, body.vrn)
            if not tags:
                raise RuleError(409, "no_valid_tag", f"{body.vrn} has no active tag here")
            locks = ((bool(t["locked"]), datetime.fromisoformat(t["locked_until"])
                      if t["locked_until"] else None) for t in tags)
            if refusing_lock(g["direction"] == "exit", locks, clock.now()):
                raise RuleError(409, "tag_locked", f"{body.vrn} is locked and may not leave")
        if link is None or not link.connected.is_set():
            raise RuleError(503, "no_broker", "the cloud is not connected to the broker")
        edge = link.edge_of(site, gate)
        if edge is None:
            raise RuleError(409, "no_edge", f"no edge box has reported gate {gate}")
        cmd = make_open(site, gate, g["command_key"], clock.now(), vrn=body.vrn, by=body.by)
        resp = link.send_command(edge, cmd)
        if resp is None:
            raise RuleError(504, "no_answer", f"edge {edge} did not answer in time")
        return {"command": cmd["id"], "edge": edge, "status": resp.status, **resp.data,
                "error": resp.error}

    @app.post("/api/v1/sites/{site}/accounts", status_code=201)
    def add_account(site: str, body: AccountIn) -> dict:
        """Create or replace a guard or supervisor account of the site's panels."""
        return _version(accounts.add_account(rules, site, body.username, body.role,
                                             body.password))

    @app.get("/api/v1/sites/{site}/accounts")
    def list_accounts(site: str) -> dict:
        """The site's panel accounts (names and roles only)."""
        return {"accounts": accounts.list_accounts(rules, site)}

    @app.delete("/api/v1/sites/{site}/accounts/{username}")
    def remove_account(site: str, username: str) -> dict:
        """Delete a panel account."""
        return _version(accounts.remove_account(rules, site, username))

    @app.get("/api/v1/sites/{site}/rules", response_model=RulesSnapshot)
    def snapshot(site: str) -> RulesSnapshot:
        """The full rule set at its current version (what a fresh edge loads)."""
        return rules.snapshot(site)

    @app.get("/api/v1/events")
    def events(site: str | None = None, gate: str | None = None, type: str | None = None,
               since: datetime | None = None, until: datetime | None = None,
               limit: int = Query(1000, ge=1, le=100000), offset: int = Query(0, ge=0)) -> dict:
        """Stored events, oldest first, filtered by site, gate, type and time."""
        where, args = [], []
        for col, val in (("site", site), ("gate", gate), ("type", type)):
            if val:
                where.append(f"{col} = ?")
                args.append(val)
        if since:
            where.append("at >= ?")
            args.append(since.isoformat())
        if until:
            where.append("at < ?")
            args.append(until.isoformat())
        sql = "SELECT * FROM events" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY at, site, gate, seq LIMIT ? OFFSET ?"
        rows = db.conn.execute(sql, (*args, limit, offset)).fetchall()
        return {"events": [{**dict(r), "data": json.loads(r["data"])} for r in rows]}

    @app.get("/api/v1/sites/{site}/events/summary")
    def summary(site: str) -> dict:
        """Counts per event type, and decisions per outcome."""
        c = db.conn
        types = {r[0]: r[1] for r in c.execute(
            "SELECT type, count(*) FROM events WHERE site = ? GROUP BY type", (site,))}
        outcomes = {r[0]: r[1] for r in c.execute(
            f"SELECT {json_text(c, 'data', 'outcome')}, count(*) FROM events "
            "WHERE site = ? AND type = 'decision' GROUP BY 1", (site,))}
        gates = {r[0]: {"count": r[1], "max_seq": r[2]} for r in c.execute(
            "SELECT gate, count(*), max(seq) FROM events WHERE site = ? GROUP BY gate", (site,))}
        return {"site": site, "types": types, "decisions": outcomes, "gates": gates}

    @app.get("/api/v1/edges")
    def edges() -> dict:
        """Last availability of each edge box."""
        return {"edges": [dict(r) for r in db.conn.execute("SELECT * FROM edges")]}

    return app
