"""Events from the gates, stored exactly once in batches, acknowledged after commit.

The MQTT thread only parses and queues; one writer thread per cloud process takes what has
queued (up to ``batch_max``; while events come faster than one a transaction, it waits
``batch_wait_s`` after the first for more: a group commit, so that a busy process makes fewer
and larger transactions, and a quiet one adds no wait), inserts it in one transaction with
``ON CONFLICT DO NOTHING``, and only then acknowledges every id of the batch, one ack message
per edge box. An event that is queued but not yet committed when the process dies is never
acknowledged, so its box sends it again (to whichever process of the share group is alive).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence

from cloud.storage import Database, Tx
from cloud.storage import events as events_store
from shared.clock import Clock
from shared.contract import Event
from shared.counters import Counters

log = logging.getLogger(__name__)

def insert_events(c: Tx, events: list[Event], received_at: str
                  ) -> set[tuple[str, str, str]]:
    """Insert the events not stored yet; the (site, edge, id) of those newly stored."""
    rows = [(e.site, e.id, e.edge, e.gate, e.seq, e.type.value, e.at.isoformat(),
             json.dumps(e.data), received_at) for e in events]
    return events_store.insert_new(c, rows)


# A step run inside the storing transaction with the events newly stored and when.
StoredStep = Callable[[Tx, list[Event], str], object]


class EventWriter:
    """The queue between the MQTT thread and the database, and the thread that drains it."""

    def __init__(self, db: Database, clock: Clock, ack: Callable[[str, list[str]], None],
                 counters: Counters, batch_max: int = 500, batch_wait_s: float = 0.0, *,
                 in_tx: Sequence[StoredStep] = (), after_commit: Sequence[Callable[[], None]] = (),
                 on_acked: Callable[[float], None] | None = None) -> None:
        self.db = db
        self.clock = clock
        self.ack = ack
        self.counters = counters
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_s
        # Run inside the storing transaction with the events newly stored: whatever follows a
        # stored event is queued there (partner forwarding, the reactions), so it is as durable
        # as the event; one that fails fails the batch, which is not acked.
        self.in_tx = tuple(in_tx)
        # Run after a batch that stored something was committed and acked (to wake a queue's
        # worker); never for the work itself, which a failure here would lose.
        self.after_commit = tuple(after_commit)
        # Seconds from an event's arrival to its ack, for the metrics (none: not measured).
        self.on_acked = on_acked
        self._q: queue.Queue[tuple[Event, float] | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="event-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Store and acknowledge what is queued, then end the thread."""
        if self._thread is not None:
            self._q.put(None)
            self._thread.join(10)
            self._thread = None

    def put(self, event: Event) -> None:
        """Queue a parsed event (from the MQTT thread)."""
        self._q.put((event, time.monotonic()))

    @property
    def depth(self) -> int:
        """Events queued and not yet stored."""
        return self._q.qsize()

    def _run(self) -> None:
        busy = False  # the last batch held more than one event
        while True:
            first = self._q.get()
            got = [first] if first is not None else []
            stopping = first is None
            until = time.monotonic() + (self.batch_wait_s if busy else 0.0)
            while not stopping and len(got) < self.batch_max:
                try:
                    wait = until - time.monotonic()
                    nxt = self._q.get(timeout=wait) if wait > 0 else self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                else:
                    got.append(nxt)
            if got:
                self.write([e for e, _ in got], [t for _, t in got])
            busy = len(got) > 1
            if stopping:
                return

    def write(self, batch: list[Event], arrived: list[float] | None = None,
              ) -> set[tuple[str, str, str]]:
        """Store a batch in one transaction (with what follows each newly stored event, queued
        by the ``in_tx`` steps), then ack it; the (site, edge, id) of the events newly stored.
        On a database error nothing is acked: the boxes resend. *arrived*: each event's
        arrival (``time.monotonic``), for the ack latency."""
        unique = list({(e.site, e.edge, e.id): e for e in batch}.values())
        try:
            with self.db.write() as c:
                received = self.clock.now().isoformat()
                stored = insert_events(c, unique, received)
                if self.in_tx and stored:
                    fresh = [e for e in unique if (e.site, e.edge, e.id) in stored]
                    for step in self.in_tx:
                        step(c, fresh, received)
        except Exception:
            self.counters.inc("store_errors")
            log.exception("could not store %d events; the boxes will send them again",
                          len(unique))
            return set()
        self.counters.inc("stored", len(stored))
        self.counters.inc("duplicates", len(batch) - len(stored))
        self.counters.inc("batches")
        by_edge: dict[str, list[str]] = defaultdict(list)
        for e in unique:
            by_edge[e.edge].append(e.id)
        for edge, ids in by_edge.items():
            self.ack(edge, ids)
        if self.on_acked and arrived:
            now = time.monotonic()
            for t in arrived:
                self.on_acked(now - t)
        if stored:
            for wake in self.after_commit:
                wake()
        return stored
