"""Forwarding entries and exits to partner apps, through a durable outbox.

Queueing happens in the transaction that stores the events (``enqueue``, a hook of the ingest
writer): an event is queued for its society's partner if it is a pass of a vehicle whose link
was ``connected`` **when the car passed** (the event's time at the box) and has stayed so since,
by the same resident (``connected_since``, over the link's history), and once only (the outbox
is unique by the event). So a pass made while its resident had opted out is never sent, even
when the box was offline and the resident opted in again before the backlog arrived; one made
before an opt-out is not sent after it, queued or not yet arrived; and one sent again by its
box is not queued twice.

Delivery (``Forwarder``) runs one lane per partner endpoint, side by side, so a partner that
is slow or down holds back only its own events. A lane is run by one cloud process at a time
(a cloud-wide lock per endpoint). In a lane each vehicle's events go in order, the oldest
first; one the partner does not take is tried again after a back-off (``shared/retry.py``) and
holds back that vehicle's later ones, and a partner that failed is left alone for the rest of
the run. Each call has a total deadline and an answer cap (``cloud.outbound``), and a
lane's run stops after ``LANE_RUN_S`` (the rest waits for the next). Each event carries its
idempotency key (``site:edge:id``), so an event sent again after a crash between the partner's
answer and our commit is one event at the partner. Just before sending, the vehicle's link is
read again: an opt-out stops every event not already on the wire, queued ones included.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from cloud.partners.client import Partner, PartnerClient, PartnerError
from cloud.storage import Database, Tx
from cloud.storage import partners as store
from shared.clock import Clock
from shared.contract import Event
from shared.retry import backoff_s
from shared.wire.events import PassData

log = logging.getLogger(__name__)
BATCH = 500
LANES = 8  # partner endpoints served at once by one process
LANE_RUN_S = 10.0  # a lane's run yields after this long (its next run goes on)


def idempotency_key(site: str, edge: str, event_id: str) -> str:
    """The key a partner dedupes on: our event's full id."""
    return f"{site}:{edge}:{event_id}"


def payload(e: Event) -> dict[str, Any]:
    """What a partner receives for one pass (docs/partners.md)."""
    body = e.body
    assert isinstance(body, PassData), e.type
    return {"id": idempotency_key(e.site, e.edge, e.id), "society": e.site, "gate": e.gate,
            "vrn": body.vrn, "direction": body.direction, "at": e.at.isoformat(),
            "parking": body.parking}


def connected_since(changes: list[tuple[str, str, str]], at: datetime, resident: str) -> bool:
    """Whether, by the link's history (oldest first: when, resident, state), it stood
    ``connected`` by *resident* at *at* and has ever since (before its first change it did
    not stand at all)."""
    state = None
    for when, who, what in changes:
        if datetime.fromisoformat(when) > at and state != (resident, "connected"):
            return False
        state = (who, what)
    return state == (resident, "connected")


def enqueue(c: Tx, events: list[Event], now: str) -> int:
    """Queue, inside the storing transaction, the passes of vehicles connected now and when
    they passed; how many."""
    passes = [(e, e.body.vrn) for e in events
              if isinstance(e.body, PassData) and e.body.vrn]
    if not passes:
        return 0
    links = store.connected(c, sorted({(e.site, str(vrn)) for e, vrn in passes}))
    if not links:
        return 0
    changes = store.history(c, sorted(links))
    rows = []
    for e, vrn in passes:
        vehicle = (e.site, str(vrn))
        if vehicle in links and connected_since(changes.get(vehicle, []), e.at,
                                                links[vehicle][1]):
            rows.append((e.id, e.edge, e.site, vehicle[1], links[vehicle][0],
                         e.at.isoformat(), json.dumps(payload(e)), now))
    return store.enqueue(c, rows) if rows else 0


def _lock(endpoint: str) -> str:
    """The cloud-wide lock of an endpoint's lane (a name fit for a lock file)."""
    return "partner-forward-" + hashlib.sha256(endpoint.encode()).hexdigest()[:16]


class Forwarder:
    """The outbox's delivery, a lane per partner endpoint."""

    def __init__(self, db: Database, clock: Clock, client: PartnerClient) -> None:
        self.db = db
        self.clock = clock
        self.client = client
        self.sent = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._running: dict[str, Future[dict[str, int]]] = {}
        self._pool = ThreadPoolExecutor(LANES, thread_name_prefix="partner-lane")

    def deliver_once(self) -> dict[str, int]:
        """The periodic run: start the lane of every endpoint with events due whose lane is
        not running already (here, or in another cloud process); returns at once."""
        started = 0
        for endpoint in store.pending_endpoints(self.db.conn):
            with self._lock:
                if endpoint in self._running and not self._running[endpoint].done():
                    continue
                self._running[endpoint] = self._pool.submit(self._lane, endpoint, True)
            started += 1
        return {"sent": 0, "failed": 0, "lanes": started}

    def deliver(self) -> dict[str, int]:
        """Try every vehicle's oldest pending event now, backed off or not, every lane side
        by side, and go on while partners take them; counts of sent and failed."""
        total = {"sent": 0, "failed": 0}
        endpoints = store.pending_endpoints(self.db.conn)
        while endpoints:
            runs = {ep: self._pool.submit(self._lane, ep, False) for ep in endpoints}
            got = {ep: run.result() for ep, run in runs.items()}
            total = {k: total[k] + sum(g[k] for g in got.values()) for k in total}
            # A lane that yielded while sending goes on; one that sent nothing is done.
            endpoints = [ep for ep, g in got.items() if g["sent"] > 0]
            endpoints = [ep for ep in store.pending_endpoints(self.db.conn) if ep in endpoints]
        return total

    def pending(self) -> int:
        """Events waiting for a partner."""
        return store.outbox_counts(self.db.conn)["pending"]

    def close(self) -> None:
        """Let running lanes finish their call and stop."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _lane(self, endpoint: str, due_only: bool) -> dict[str, int]:
        """One run of an endpoint's lane (skipped, when periodic, while another process runs
        it): runs while it sends, for at most ``LANE_RUN_S``."""
        total = {"sent": 0, "failed": 0}
        try:
            with self.db.exclusive(_lock(endpoint), wait=not due_only) as mine:
                if not mine:
                    return total
                end = time.monotonic() + LANE_RUN_S
                while True:
                    got = self._deliver(endpoint, due_only, end)
                    total = {k: total[k] + got[k] for k in total}
                    if got["sent"] == 0 or time.monotonic() > end:
                        return total
        except Exception:
            log.exception("forwarding to %s failed", endpoint)
            return total

    def _deliver(self, endpoint: str, due_only: bool, end: float) -> dict[str, int]:
        out = {"sent": 0, "failed": 0}
        now = self.clock.now()
        held: set[tuple[str, str]] = set()  # vehicles whose older event is not sent
        for r in store.pending(self.db.conn, BATCH, endpoint):
            if time.monotonic() > end:
                break
            vehicle = (r["site"], r["vrn"])
            if vehicle in held:
                continue
            if due_only and r["next_at"] and datetime.fromisoformat(r["next_at"]) > now:
                held.add(vehicle)  # the oldest waits its back-off, and the rest after it
                continue
            with self.db.read() as c:
                if not store.still_sendable(c, r["id"]):
                    held.add(vehicle)
                    continue
            try:
                self.client.forward(Partner(r["partner"], r["endpoint"], r["credential"],
                                            r["signing_secret"] or ""),
                                    idempotency_key(r["site"], r["edge"], r["event_id"]),
                                    json.loads(r["payload"]))
            except PartnerError as exc:
                out["failed"] += 1
                later = now + timedelta(seconds=backoff_s(int(r["attempts"]) + 1))
                with self.db.write() as c:
                    store.mark_failed(c, r["id"], str(exc)[:300], later.isoformat())
                log.warning("%s did not take event %s: %s", r["partner"], r["event_id"], exc)
                break  # the partner failed: left alone for the rest of this run
            out["sent"] += 1
            with self.db.write() as c:
                store.mark_sent(c, r["id"], self.clock.now().isoformat())
        with self._lock:
            self.sent += out["sent"]
            self.failed += out["failed"]
        return out
