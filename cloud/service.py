"""``gatepost cloud run``: the API with uvicorn in the foreground."""

from __future__ import annotations

import logging
import os
import sys

import uvicorn

from cloud.app import create_app, settled
from cloud.settings import CloudSettings
from cloud.storage import Database, UnsafeDatabase, open_durable

log = logging.getLogger(__name__)


def migrate(db: str) -> int:
    """``gatepost cloud migrate``: upgrade *db* in place and say from and to which revision."""
    from cloud.storage import redact

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


def rules_reset(db: str, reason: str) -> int:
    """``gatepost cloud rules-reset``: start a new rules epoch, so every box replaces its
    rules from a snapshot (running cloud processes republish within ``history_check_s``)."""
    import json

    from cloud.society.epoch import new_epoch

    try:
        database = Database(db)
    except ValueError as exc:
        print(f"gatepost cloud rules-reset: {exc}", file=sys.stderr)
        return 2
    try:
        old, new = new_epoch(database, f"rules-reset: {reason}")
    finally:
        database.close()
    print(json.dumps({"epoch": new, "was": old}))
    return 0


def copy(src: str, dst: str) -> int:
    """``gatepost cloud copy``: every table of *src* into the empty *dst*; prints the rows per
    table as JSON, exit 2 when the copy cannot go ahead."""
    import json

    from cloud.storage.copy import CopyError, copy_database

    try:
        counts = copy_database(src, dst)
    except (CopyError, ValueError) as exc:
        print(f"gatepost cloud copy: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"tables": counts, "rows": sum(counts.values())}))
    return 0


def run(settings: CloudSettings) -> int:
    """Serve until SIGTERM/SIGINT (uvicorn handles both). With ``workers`` over 1, uvicorn
    supervises that many processes, each serving HTTP on the one port and sharing the event
    stream; each builds its app from the ``GATEPOST_*`` environment set here."""
    url = f"http://{settings.host}:{settings.port}"
    try:
        # Checked (and migrated) once here, so the workers start on a database fit to serve.
        open_durable(settings.database(), allow_async_commit=settings.allow_async_commit
                     ).close()
    except UnsafeDatabase as exc:
        print(f"gatepost cloud run: refusing to start: {exc}", file=sys.stderr)
        return 2
    if settings.workers == 1:
        app = settled(create_app(settings))
        print(f"gatepost cloud: API at {url} (docs at /docs)", flush=True)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning",
                    access_log=False)
        return 0
    os.environ.update(settings.to_environ())
    print(f"gatepost cloud: API at {url} (docs at /docs), {settings.workers} workers",
          flush=True)
    uvicorn.run("cloud.app:app_from_env", factory=True, workers=settings.workers,
                host=settings.host, port=settings.port, log_level="warning", access_log=False)
    return 0
