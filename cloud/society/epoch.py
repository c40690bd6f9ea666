"""The epoch of the cloud's rules: a random id of one rules history.

Versions count changes within a history. A database restored from a backup, a re-created one
or an operator's ``gatepost cloud rules-reset`` starts another history, and the numbers alone
cannot tell: version 12 of the restored rules is not version 12 of the rules the boxes hold.
Every version, delta and snapshot carries the epoch, and a box that sees another epoch replaces
its cache from a snapshot. A new database draws its epoch on first use; a restore that went
round our tools is found by the MQTT side (``cloud.ingest.mqtt``): the broker still retains a
version of this epoch that the database has not reached, so the history went back.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime

from cloud.storage import Database, Tx
from cloud.storage import society as store

log = logging.getLogger(__name__)


def _draw() -> str:
    return secrets.token_hex(8)


def ensure_epoch(db: Database, at: str) -> str:
    """This database's epoch, drawn now if it has none."""
    with db.write() as c:
        store.draw_epoch(c, _draw(), at, "created")
        return epoch_of(c)


def epoch_of(c: Tx) -> str:
    """The epoch, read in the caller's transaction ('' before ``ensure_epoch``)."""
    return store.epoch(c) or ""


def reset_epoch(db: Database, at: str, cause: str, only_if: str | None = None) -> str | None:
    """Start a new rules history; the new epoch. With *only_if*, only while the epoch is
    still that one (several processes that find one restore reset it once): None if not."""
    new = _draw()
    with db.write() as c:
        if not store.replace_epoch(c, new, at, cause, only_if):
            return None
    log.warning("rules epoch is now %s (%s): every box will replace its rules", new, cause)
    return new


def new_epoch(db: Database, cause: str) -> tuple[str, str]:
    """Start a new rules history now, whatever the current one: (the old epoch, the new)."""
    at = datetime.now(UTC).isoformat()
    was = ensure_epoch(db, at)
    new = reset_epoch(db, at, cause)
    assert new is not None  # unconditional: never refused
    return was, new
