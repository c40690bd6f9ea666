"""Forwarding entries and exits to partner apps, through a durable outbox.

Queueing happens in the transaction that stores the events (``enqueue``, a hook of the ingest
writer): an event is queued for its society's partner if it is a pass through a gate with a
vehicle whose link is ``connected``, and once only (the outbox is unique by the event). So an
event that is stored is queued, and one sent again by its box is not queued twice.

Delivery (``Forwarder``), run by one cloud process at a time: each vehicle's events go in
order, the oldest first; one the partner does not take is tried again after a back-off
(``shared/retry.py``) and holds back that vehicle's later ones, and a partner that failed is left
alone for the rest of the run. Each event carries its idempotency key (``site:edge:id``), so an
event sent again after a crash between the partner's answer and our commit is one event at the
partner. Just before sending, the vehicle's link is read again: an opt-out stops every event not
already on the wire, queued ones included (they are cancelled by the opt-out).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from cloud.partners.client import Partner, PartnerClient, PartnerError
from cloud.storage import Database, Tx
from cloud.storage import partners as store
from shared.clock import Clock
from shared.contract import Event
from shared.retry import backoff_s
from shared.vocab import EventType

log = logging.getLogger(__name__)
BATCH = 500


def idempotency_key(site: str, edge: str, event_id: str) -> str:
    """The key a partner dedupes on: our event's full id."""
    return f"{site}:{edge}:{event_id}"


def payload(e: Event) -> dict[str, Any]:
    """What a partner receives for one pass (docs/partners.md)."""
    return {"id": idempotency_key(e.site, e.edge, e.id), "society": e.site, "gate": e.gate,
            "vrn": e.data.get("vrn"), "direction": e.data.get("direction", "entry"),
            "at": e.at.isoformat(), "parking": e.data.get("parking")}


def enqueue(c: Tx, events: list[Event], now: str) -> int:
    """Queue, inside the storing transaction, the passes of connected vehicles; how many."""
    passes = [e for e in events if e.type is EventType.PASS and e.data.get("vrn")]
    if not passes:
        return 0
    partners = store.connected(c, sorted({(e.site, str(e.data["vrn"])) for e in passes}))
    rows = [(e.id, e.edge, e.site, str(e.data["vrn"]), partners[(e.site, str(e.data["vrn"]))],
             e.at.isoformat(), json.dumps(payload(e)), now)
            for e in passes if (e.site, str(e.data["vrn"])) in partners]
    return store.enqueue(c, rows) if rows else 0


class Forwarder:
    """The outbox's delivery."""

    def __init__(self, db: Database, clock: Clock, client: PartnerClient) -> None:
        self.db = db
        self.clock = clock
        self.client = client
        self.sent = 0
        self.failed = 0
        self._lock = threading.Lock()

    def deliver_once(self) -> dict[str, int]:
        """The periodic run: skipped while another cloud process is delivering."""
        with self.db.exclusive("partner-forward", wait=False) as mine:
            return self._drain(due_only=True) if mine else {"sent": 0, "failed": 0}

    def deliver(self) -> dict[str, int]:
        """Try every vehicle's oldest pending event now, backed off or not, and go on while
        the partner takes them; counts of sent and failed."""
        with self.db.exclusive("partner-forward"):
            return self._drain(due_only=False)

    def _drain(self, due_only: bool) -> dict[str, int]:
        """Runs until one sends nothing (a run takes at most ``BATCH`` events)."""
        total = {"sent": 0, "failed": 0}
        while True:
            got = self._deliver(due_only)
            total = {k: total[k] + got[k] for k in total}
            if got["sent"] == 0:
                return total

    def pending(self) -> int:
        """Events waiting for a partner."""
        return store.outbox_counts(self.db.conn)["pending"]

    def _deliver(self, due_only: bool) -> dict[str, int]:
        out = {"sent": 0, "failed": 0}
        with self._lock:
            now = self.clock.now()
            down: set[str] = set()  # partners (by endpoint) that failed in this run
            held: set[tuple[str, str]] = set()  # vehicles whose older event is not sent
            for r in store.pending(self.db.conn, BATCH):
                vehicle = (r["site"], r["vrn"])
                if vehicle in held or r["endpoint"] in down:
                    held.add(vehicle)
                    continue
                if due_only and r["next_at"] and datetime.fromisoformat(r["next_at"]) > now:
                    held.add(vehicle)  # the oldest waits its back-off, and the rest after it
                    continue
                with self.db.read() as c:
                    if not store.still_sendable(c, r["id"]):
                        held.add(vehicle)
                        continue
                try:
                    self.client.forward(Partner(r["partner"], r["endpoint"], r["credential"]),
                                        idempotency_key(r["site"], r["edge"], r["event_id"]),
                                        json.loads(r["payload"]))
                except PartnerError as exc:
                    out["failed"] += 1
                    down.add(r["endpoint"])
                    held.add(vehicle)
                    later = now + timedelta(seconds=backoff_s(int(r["attempts"]) + 1))
                    with self.db.write() as c:
                        store.mark_failed(c, r["id"], str(exc)[:300], later.isoformat())
                    log.warning("%s did not take event %s: %s", r["partner"], r["event_id"],
                                exc)
                    continue
                out["sent"] += 1
                with self.db.write() as c:
                    store.mark_sent(c, r["id"], self.clock.now().isoformat())
        self.sent += out["sent"]
        self.failed += out["failed"]
        return out
