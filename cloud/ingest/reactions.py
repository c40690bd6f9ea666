"""What the cloud does because of a stored event, as durable as the event itself.

A reaction (a single-use pass spent, a code activated by its first use, a vehicle put inside or
outside its parking, a walk-in visitor marked in, staff told of a barrier that failed) is queued
in the transaction that stores its event (``Reactions.enqueue``, a step of the ingest writer):
an event that is acknowledged has its reactions queued, and an event sent again is not queued
twice (only newly stored events are).

One cloud process at a time drains the queue, woken after each stored batch and every
``poll_s`` otherwise. A reaction is done at least once, and may be done again after a crash
between doing it and taking it off the queue, so each is idempotent (a spent pass is not spent
again, a request marked entered stays so). One that fails is tried again after a back-off
(``shared/retry.py``), and holds back the later reactions of its lane (one code, one vehicle
in one parking) so that they keep their order; a held lane holds back no other lane (it is left
out of the query, and a drain pages on by id). One that failed ``max_attempts`` times is parked:
kept in the queue for a person to look at, counted (``reactions_parked``, the gauge
``gatepost_cloud_reactions_queued``), logged at ERROR, tried no more, and its lane goes on. A
refusal of the domain (``CloudError``: the pass was cancelled meanwhile…) is final: there is
nothing left to do.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cloud.errors import CloudError
from cloud.storage import Database, Row, Tx
from cloud.storage import reactions as store
from shared.contract import Event
from shared.counters import Counters
from shared.retry import backoff_s

log = logging.getLogger(__name__)
BATCH = 500
# Tries before a reaction is parked: the back-off reaches 60 s at the 7th, so about a quarter
# of an hour of failing (a fault that outlasts it needs a person, not more tries).
MAX_ATTEMPTS = 20


@dataclass(frozen=True)
class Reaction:
    """One kind of reaction: the lane an event's reaction goes in (None: the event calls for
    none of this kind), and what it does (raising when it could not: it is tried again)."""

    name: str
    lane: Callable[[Event], str | None]
    act: Callable[[Event], None]


class Reactions:
    """The queue of reactions to stored events, and the thread that drains it."""

    def __init__(self, db: Database, counters: Counters, poll_s: float = 1.0,
                 max_attempts: int = MAX_ATTEMPTS, kinds: Iterable[Reaction] = ()) -> None:
        self.db = db
        self.counters = counters
        self.poll_s = poll_s
        self.max_attempts = max_attempts
        self.kinds: dict[str, Reaction] = {k.name: k for k in kinds}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def enqueue(self, c: Tx, events: list[Event], now: str) -> int:
        """Queue, inside the storing transaction, every reaction the newly stored *events*
        call for; how many."""
        rows = []
        for e in events:
            for kind in self.kinds.values():
                lane = kind.lane(e)
                if lane is not None:
                    rows.append((e.site, e.edge, e.id, kind.name, lane, e.model_dump_json(),
                                 now))
        return store.enqueue(c, rows) if rows else 0

    def start(self) -> None:
        """Start the draining thread (it drains what an earlier process left at once)."""
        self._stopping.clear()
        self._wake.set()
        self._thread = threading.Thread(target=self._run, name="event-reactions", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the draining thread (what is queued stays queued, for any process)."""
        if self._thread is not None:
            self._stopping.set()
            self._wake.set()
            self._thread.join(10)
            self._thread = None

    def kick(self) -> None:
        """Events were stored: drain now rather than at the next poll."""
        self._wake.set()

    def pending(self) -> dict[str, int]:
        """Reactions waiting (``pending``), of them those that failed at least once
        (``failing``), and those parked (``parked``)."""
        with self.db.read() as c:
            return store.counts(c, self.max_attempts)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.drain_once()
            except Exception:  # the database is away: the next poll tries again
                self.counters.inc("reaction_drain_errors")
                log.exception("draining the reactions to stored events failed")

    def drain_once(self) -> dict[str, int]:
        """The periodic run: skipped while another cloud process is draining."""
        with self.db.exclusive("event-reactions", wait=False) as mine:
            return self._drain(due_only=True) if mine else {"done": 0, "failed": 0, "parked": 0}

    def drain(self) -> dict[str, int]:
        """Try every queued reaction now, backed off or not (parked ones stay parked); counts
        of done, failed and parked."""
        with self.db.exclusive("event-reactions"):
            return self._drain(due_only=False)

    def _drain(self, due_only: bool) -> dict[str, int]:
        """Every reaction to do, a page of at most ``BATCH`` at a time, each page past the last
        (so each reaction is tried at most once a drain, and none waits behind a held page)."""
        out = {"done": 0, "failed": 0, "parked": 0}
        held: set[str] = set()  # lanes whose older reaction failed, or is not ours, this drain
        after = 0
        while True:
            with self.db.read() as c:
                rows = store.due(c, time.time() if due_only else None, list(self.kinds),
                                 self.max_attempts, after, BATCH)
            for r in rows:
                kind = self.kinds.get(r["reaction"])
                if r["lane"] in held or kind is None:
                    held.add(r["lane"])  # an unknown kind: queued by a newer version, left to it
                    continue
                got = self._do(kind, r)
                out[got] += 1
                if got != "done":
                    held.add(r["lane"])
            if len(rows) < BATCH:
                return out
            after = int(rows[-1]["id"])

    def _do(self, kind: Reaction, r: Row) -> str:
        """Do one queued reaction: ``done`` (or refused: nothing left to do), ``failed`` (tried
        again after a back-off) or ``parked`` (failed too often: tried no more)."""
        event = Event.model_validate_json(r["event"])
        try:
            kind.act(event)
        except CloudError as exc:
            self.counters.inc("reactions_refused")
            log.info("%s reaction to event %s of %s: nothing to do (%s)", kind.name,
                     event.id, event.site, exc.reason)
        except Exception as exc:
            self.counters.inc("reaction_errors")
            attempts = int(r["attempts"]) + 1
            error = str(exc)[:300]
            if attempts >= self.max_attempts:
                self.counters.inc("reactions_parked")
                log.error("%s reaction to event %s of %s parked after %d tries (its lane goes "
                          "on; the row stays in event_reactions): %s", kind.name, event.id,
                          event.site, attempts, exc)
                with self.db.write() as c:
                    store.failed(c, r["id"], error, None)
                return "parked"
            # The first failure with its traceback; then one line a try.
            (log.exception if attempts == 1 else log.warning)(
                "%s reaction to event %s of %s failed (try %d), tried again later: %s",
                kind.name, event.id, event.site, attempts, exc)
            with self.db.write() as c:
                store.failed(c, r["id"], error, time.time() + backoff_s(attempts))
            return "failed"
        with self.db.write() as c:
            store.done(c, r["id"])
        self.counters.inc("reactions_done")
        return "done"
