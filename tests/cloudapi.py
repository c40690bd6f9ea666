"""A cloud served over real HTTP for a test, with an admin client (no broker)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from cloud.app import create_app
from cloud.settings import CloudSettings
from shared.clock import SystemClock
from shared.webthread import WebThread

ADMIN = "gpk_test_admin_key"


@contextmanager
def cloud_api(db: str, sites: tuple[str, ...] = (), **settings: Any) -> Iterator[httpx.Client]:
    """The cloud on *db* (with *settings*), its *sites* created; an admin client."""
    web = WebThread(create_app(CloudSettings(db=db, mqtt_url=None, admin_key=ADMIN,
                                             jobs_every_s=0, **settings), SystemClock()),
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
