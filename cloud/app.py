"""The cloud's composition root: its services built from the settings, their routers (one
module per domain under ``cloud/api/``), the error handlers and the life cycle."""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from cloud.api.cameras import camera_router
from cloud.api.code_people import code_people_router
from cloud.api.codes import codes_router
from cloud.api.events import events_router
from cloud.api.fleet import fleet_router
from cloud.api.inventory import inventory_router
from cloud.api.limits import JSON_BODY_MAX, CloudApp
from cloud.api.me import me_router
from cloud.api.parking import parking_router
from cloud.api.partners import partners_router
from cloud.api.residents import residents_router
from cloud.api.schedules import schedules_router
from cloud.api.society import society_router
from cloud.api.visitors import visitors_router
from cloud.codes import Codes
from cloud.codes.holders import CodeHolders
from cloud.codes.renewal import Renewals
from cloud.codes.walkins import WalkIns
from cloud.errors import CloudError
from cloud.fleet import Fleet
from cloud.ingest.mqtt import CloudMqtt
from cloud.jobs import Jobs
from cloud.metrics import CloudMetrics
from cloud.notify import Channels, Notifier
from cloud.parking.changes import Subscriptions
from cloud.parking.payments import HttpProvider
from cloud.parking.service import ParkingService
from cloud.partners.client import HttpPartners
from cloud.partners.forward import Forwarder, enqueue
from cloud.partners.links import PartnerLinks
from cloud.partners.outbound import Targets, networks
from cloud.people.activation import Activation
from cloud.people.fastag import FastagBindings
from cloud.people.registry import HttpFastagRegistry, HttpVehicleRegistry
from cloud.people.residents import Residents
from cloud.people.vehicle_tags import VehicleTags
from cloud.settings import CloudSettings
from cloud.society.rules import RulesService
from cloud.staff import Staff, install_auth, staff_router
from cloud.storage import open_durable
from shared.clock import Clock, clock_from
from shared.sdnotify import notify, watchdog_interval_s

log = logging.getLogger(__name__)


def app_from_env() -> FastAPI:
    """The app of one worker process of ``gatepost cloud run --workers N`` (uvicorn's
    factory): its settings come from the ``GATEPOST_*`` environment its parent set."""
    return settled(create_app(CloudSettings()))


def settled(app: FastAPI) -> FastAPI:
    """*app*, with every object made so far (modules, routes, models) moved out of the
    garbage collector's sight: they live as long as the process, and a full collection that
    walks them all (some 110,000) would stall the event stream for 60 ms and more."""
    gc.collect()
    gc.freeze()
    return app


def channels_of(settings: CloudSettings) -> Channels:
    """Where notifications go, from the settings."""
    smtp = settings.smtp
    host, _, port = smtp.rpartition(":") if ":" in smtp else (smtp, "", "25")
    return Channels(webhook_url=settings.webhook_url,
                    webhook_secret=settings.secret("webhook_secret") or "", smtp_host=host,
                    smtp_port=int(port or 25), mail_from=settings.mail_from)


def create_app(settings: CloudSettings, clock: Clock | None = None) -> FastAPI:
    """The cloud app; starts its MQTT side with the app when the settings name a broker,
    and the subscription status job every ``jobs_every_s`` seconds (0: only on demand).
    *clock* overrides the settings' clock (tests)."""
    clock = clock or clock_from(settings.clock_file)
    db = open_durable(settings.database(), allow_async_commit=settings.allow_async_commit)
    notifier = Notifier(db, clock, channels_of(settings))
    fleet = Fleet(db, clock, notifier)
    link = CloudMqtt(db, clock, settings, fleet) if settings.mqtt_url else None
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
    jobs = Jobs(subs, settings.jobs_every_s, notifier, settings.job_lease_s)
    metrics = CloudMetrics()
    jobs.metrics = metrics
    rules.on_change = metrics.rules_changes.inc
    codes = Codes(rules)
    jobs.codes = Renewals(rules)
    walkins = WalkIns(db, clock, fleet, notifier)
    # A society admin names the partner's endpoint: never an internal address, unless the
    # operator allows its network.
    targets = Targets(networks(settings.partner_internal_targets))
    partners = HttpPartners(targets)
    forwarder = jobs.forwarder = Forwarder(db, clock, partners)
    if link:
        link.writer.in_tx.append(enqueue)  # a connected vehicle's pass: queued with the event
        # Reactions to a stored event, queued with it (cloud.ingest.reactions).
        link.reactions.add("parking", jobs.pass_lane, jobs.on_event)  # a presence flipped
        link.reactions.add("barrier", jobs.alert_lane, jobs.on_event)  # staff told
        link.reactions.add("code", codes.lane, codes.on_event)  # a pass spent, a code activated
        link.reactions.add("walkin", walkins.lane, walkins.on_event)  # a visitor went in
        link.writer.on_acked = metrics.ack_latency.observe
        jobs.counters = link.counters

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
        forwarder.close()  # a lane's call in flight ends within its deadline
        if link:
            link.stop()
        db.close()

    app = CloudApp(title="Gatepost cloud", version="1", lifespan=lifespan,
                   max_body_size=JSON_BODY_MAX)  # a route may declare more (cloud.api.limits)
    app.state.rules = rules
    app.state.link = link
    app.state.subs = subs
    app.state.jobs = jobs
    app.state.staff = staff
    app.state.fleet = fleet
    install_auth(app, staff)
    app.include_router(staff_router(staff))
    app.include_router(fleet_router(fleet, staff))
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

    @app.exception_handler(CloudError)
    async def rule_error(request: Request, exc: CloudError) -> JSONResponse:
        return JSONResponse(status_code=exc.status,
                            content={"detail": {"reason": exc.reason, "message": exc.message}})

    app.include_router(society_router(rules, subs, link, clock))
    app.include_router(schedules_router(rules))
    residents = Residents(db, clock, rules)
    residents.on_removed.append(codes.cancel_all_of)  # one who left opens no gate by code
    registry = HttpVehicleRegistry(settings.vehicle_registry_url) \
        if settings.vehicle_registry_url else None
    fastags = HttpFastagRegistry(settings.fastag_registry_url) \
        if settings.fastag_registry_url else None
    jobs.fastag = FastagBindings(rules, fastags, notifier)
    activation = Activation(rules, registry,
                            lambda reason: metrics.activations_refused.labels(reason).inc(),
                            fastags)
    app.include_router(residents_router(residents, staff))
    app.include_router(me_router(residents, activation, VehicleTags(rules)))
    app.include_router(inventory_router(rules))
    partner_links = PartnerLinks(db, clock, partners, targets)
    residents.on_removed.append(partner_links.resident_left)  # their links disconnected
    activation.on_activated = partner_links.after_activation
    app.include_router(partners_router(partner_links, staff, jobs, db))
    app.include_router(codes_router(codes))
    app.include_router(code_people_router(CodeHolders(db, clock), jobs))
    app.include_router(visitors_router(walkins))
    app.include_router(events_router(db, rules, link, settings, rejected))
    metrics.watch(link, notifier, rejected, jobs.forwarder)
    app.include_router(metrics.router())
    return app
