"""A cloud served over real HTTP for a test, with an admin client (no broker)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from cloud.app import create_app
from cloud.settings import CloudSettings
from shared.clock import Clock, SystemClock
from shared.webthread import WebThread

ADMIN = "gpk_test_admin_key"


@contextmanager
def cloud_api(db: str, sites: tuple[str, ...] = (), clock: Clock | None = None,
              **settings: Any) -> Iterator[httpx.Client]:
    """The cloud on *db* (with *settings*, on *clock*: the system's by default), its *sites*
    created; an admin client."""
    web = WebThread(create_app(CloudSettings(db=db, mqtt_url=None, admin_key=ADMIN,
                                             jobs_every_s=0, **settings),
                               clock or SystemClock()),
                    "127.0.0.1", 0)
    web.start()
    c = httpx.Client(base_url=web.url, timeout=30, headers={"X-Api-Key": ADMIN})
    try:
        for site in sites:
            c.post("/api/v1/sites", json={"id": site}).raise_for_status()
        yield c
    finally:
        c.close()
        web.stop()


@contextmanager
def resident_app(staff: httpx.Client, phone: str = "9876543210", name: str = "Asha",
                 site: str = "green-acres", flat: str = "B-402"
                 ) -> Iterator[tuple[dict[str, Any], httpx.Client]]:
    """A resident of *site* added by *staff*, and a client of their app (their own key)."""
    who = staff.post("/api/v1/residents", json={
        "phone": phone, "name": name, "flats": [{"site": site, "flat": flat}]}).json()
    key = staff.post(f"/api/v1/residents/{who['id']}/keys").json()["key"]
    with httpx.Client(base_url=str(staff.base_url), timeout=30,
                      headers={"X-Api-Key": key}) as me:
        yield who, me


@contextmanager
def linked_cloud(db: str, broker_url: str, **settings: Any
                 ) -> Iterator[tuple[httpx.Client, Any]]:
    """The cloud on *db* linked to the broker at *broker_url* (with *settings*, on the
    system's clock), served over real HTTP: an admin client and the app."""
    app = create_app(CloudSettings(db=db, mqtt_url=broker_url, admin_key=ADMIN, jobs_every_s=0,
                                   **settings), SystemClock())
    web = WebThread(app, "127.0.0.1", 0)
    app.state.services.link.start(app.state.services.rules)
    web.start()
    c = httpx.Client(base_url=web.url, timeout=60, headers={"X-Api-Key": ADMIN})
    try:
        yield c, app
    finally:
        c.close()
        app.state.services.link.stop()
        web.stop()
