"""The cloud's composition root: its services built once from the settings
(``cloud.compose``), then the app around them with its routers (module-level, one per domain
under ``cloud/api/``, listed in ``cloud.api.routers``), error handlers, auth middleware and
life cycle. Nothing is set on the app or a service once built."""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from cloud.api.limits import JSON_BODY_MAX, CloudApp
from cloud.api.routers import ROUTERS
from cloud.compose import build_services
from cloud.errors import CloudError
from cloud.settings import CloudSettings
from cloud.staff import auth_middleware
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


def create_app(settings: CloudSettings, clock: Clock | None = None) -> CloudApp:
    """The cloud app; starts its MQTT side with the app when the settings name a broker,
    and the subscription status job every ``jobs_every_s`` seconds (0: only on demand).
    *clock* overrides the settings' clock (tests)."""
    services = build_services(settings, clock or clock_from(settings.clock_file))
    link, jobs, db = services.link, services.jobs, services.db
    forwarder = jobs.forwarder

    async def watchdog() -> None:
        # Pinged from the event loop itself: a wedged loop stops the pings and systemd
        # restarts the service.
        while True:
            notify("WATCHDOG=1")
            await asyncio.sleep(watchdog_interval_s())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if link:
            link.start(services.rules)
        jobs.start()
        pinger = asyncio.create_task(watchdog())
        notify("READY=1")
        yield
        notify("STOPPING=1")
        pinger.cancel()
        jobs.stop()
        if forwarder is not None:
            forwarder.close()  # a lane's call in flight ends within its deadline
        if link:
            link.stop()
        db.close()

    rejected = services.rejected

    async def bad_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        rejected["requests"] += 1
        log.warning("rejected %s %s: %s", request.method, request.url.path,
                    str(exc.errors()[:3])[:300])
        return await request_validation_exception_handler(request, exc)

    async def rule_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CloudError)
        return JSONResponse(status_code=exc.status,
                            content={"detail": {"reason": exc.reason, "message": exc.message}})

    # A route may declare a larger body than JSON_BODY_MAX (cloud.api.limits).
    return CloudApp(services, ROUTERS, title="Gatepost cloud", version="1", lifespan=lifespan,
                    max_body_size=JSON_BODY_MAX,
                    exception_handlers={RequestValidationError: bad_request,
                                        CloudError: rule_error},
                    middleware=[auth_middleware(services.staff)])
