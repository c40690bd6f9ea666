"""``gatepost cloud run``: the API with uvicorn in the foreground."""

from __future__ import annotations

import logging
import os
import sys

import uvicorn

from cloud.app import create_app
from cloud.settings import CloudSettings
from cloud.storage import Database

log = logging.getLogger(__name__)


def migrate(db: str) -> int:
    """``gatepost cloud migrate``: upgrade *db* in place and say from and to which revision."""
    from cloud.storage import Database, redact

    try:
        database = Database(db, upgrade=False)
    except ValueError as exc:
        print(f"gatepost cloud migrate: {exc}", file=sys.stderr)
        return 2
    try:
        before, after = database.upgrade()
    finally:
        database.close()
    if before == after:
        print(f"{redact(db)}: already at {after}")
    else:
        print(f"{redact(db)}: {before or 'empty'} → {after}")
    return 0


def run(settings: CloudSettings) -> int:
    """Serve until SIGTERM/SIGINT (uvicorn handles both). With ``workers`` over 1, uvicorn
    supervises that many processes, each serving HTTP on the one port and sharing the event
    stream; each builds its app from the ``GATEPOST_*`` environment set here."""
    url = f"http://{settings.host}:{settings.port}"
    if settings.workers == 1:
        app = create_app(settings)
        print(f"gatepost cloud: API at {url} (docs at /docs)", flush=True)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning",
                    access_log=False)
        return 0
    # Migrate once here, so the workers start on an up-to-date schema.
    Database(settings.database()).close()
    os.environ.update(settings.to_environ())
    print(f"gatepost cloud: API at {url} (docs at /docs), {settings.workers} workers",
          flush=True)
    uvicorn.run("cloud.app:app_from_env", factory=True, workers=settings.workers,
                host=settings.host, port=settings.port, log_level="warning", access_log=False)
    return 0
