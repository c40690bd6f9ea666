"""``gatepost cloud run``: the API with uvicorn in the foreground."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import uvicorn

from cloud.app import create_app
from cloud.notify import Channels
from shared.clock import clock_from

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


def run(data_dir: Path, db: str, mqtt_url: str | None, host: str, port: int,
        clock_file: Path | None = None, mqtt_user: str | None = None,
        jobs_every_s: float = 30.0, payments_url: str | None = None,
        public_url: str | None = None, channels: Channels | None = None) -> int:
    """Serve until SIGTERM/SIGINT (uvicorn handles both).

    The broker password comes from $GATEPOST_MQTT_PASSWORD, the payment provider's callback
    secret from $GATEPOST_PAYMENTS_SECRET, and an optional bootstrap admin API key from
    $GATEPOST_ADMIN_KEY, never from the command line.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(db, clock_from(clock_file), mqtt_url, mqtt_user,
                     os.environ.get("GATEPOST_MQTT_PASSWORD") if mqtt_user else None,
                     jobs_every_s, payments_url, os.environ.get("GATEPOST_PAYMENTS_SECRET"),
                     public_url or f"http://{host}:{port}", channels,
                     os.environ.get("GATEPOST_ADMIN_KEY"))
    print(f"gatepost cloud: API at http://{host}:{port} (docs at /docs)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    return 0
