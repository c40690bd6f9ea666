"""Work the cloud does on its own: the subscription status job, the daily re-check of FITkit
bindings and the daily renewal of access codes (apscheduler; each run by one cloud process per
period), and reactions to events from the gates (a pass at a parking barrier flips the
vehicle's presence)."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from apscheduler.schedulers.background import BackgroundScheduler

from cloud.codes.renewal import Renewals
from cloud.metrics import CloudMetrics
from cloud.notify import Notifier
from cloud.parking.changes import Subscriptions
from cloud.partners.forward import Forwarder
from cloud.people.fastag import FastagBindings
from cloud.storage import Database
from cloud.storage import jobs as jobs_store
from cloud.storage import society as society_store
from shared.contract import Event
from shared.counters import Counters
from shared.vocab import EventType

log = logging.getLogger(__name__)
DAY_S = 86400.0


class Jobs:
    """The scheduler and the event hooks of one cloud process."""

    def __init__(self, subs: Subscriptions, every_s: float,
                 notifier: Notifier | None = None) -> None:
        self.subs = subs
        self.every_s = every_s
        self.notifier = notifier
        self.fastag: FastagBindings | None = None  # the daily FITkit re-check, when set
        self.forwarder: Forwarder | None = None  # events to partner apps, when set
        self.codes: Renewals | None = None  # the daily renewal of access codes, when set
        self.runs = 0
        self.last_ms = 0.0
        self.counters = Counters()  # the MQTT side's, when there is one (see create_app)
        self.metrics: CloudMetrics | None = None  # the process's, when it serves /metrics
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self._scheduler: BackgroundScheduler | None = None

    def start(self) -> None:
        """Run the status job every ``every_s`` seconds (nothing when 0)."""
        if self.every_s <= 0:
            return
        self._scheduler = BackgroundScheduler(daemon=True)
        self._scheduler.add_job(self._scheduled_transitions, "interval", seconds=self.every_s,
                                id="transitions", max_instances=1, coalesce=True)
        if self.notifier is not None:
            self._scheduler.add_job(self._deliver, "interval",
                                    seconds=min(5.0, self.every_s), id="deliver",
                                    max_instances=1, coalesce=True)
        if self.forwarder is not None:
            self._scheduler.add_job(self.run_forward, "interval",
                                    seconds=min(2.0, self.every_s), id="forward",
                                    max_instances=1, coalesce=True)
        if self.fastag is not None:
            self._scheduler.add_job(self._scheduled_fastag, "interval",
                                    seconds=min(3600.0, self.every_s * 10), id="fastag",
                                    max_instances=1, coalesce=True)
        if self.codes is not None:
            self._scheduler.add_job(self._scheduled_codes, "interval",
                                    seconds=min(3600.0, self.every_s * 10), id="codes",
                                    max_instances=1, coalesce=True)
        self._scheduler.start()

    def stop(self) -> None:
        """Stop the scheduler (a running job finishes first)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None

    def _scheduled_transitions(self) -> None:
        """The periodic pass: run by one cloud process per period, whichever comes first."""
        db = self.subs.db
        with db.exclusive("job-transitions", wait=False) as mine:
            if mine and self._due(db, "transitions", self.every_s):
                self.run_transitions()

    def _scheduled_fastag(self) -> None:
        """The daily FITkit re-check: woken every hour or so, runs once a day across processes."""
        db = self.subs.db
        with db.exclusive("job-fastag", wait=False) as mine:
            if mine and self._due(db, "fastag", DAY_S):
                self.run_fastag()

    def _scheduled_codes(self) -> None:
        """The daily renewal of access codes: woken every hour or so, runs once a day across
        processes."""
        db = self.subs.db
        with db.exclusive("job-codes", wait=False) as mine:
            if mine and self._due(db, "codes", DAY_S):
                self.run_codes()

    def run_codes(self) -> dict[str, int]:
        """One pass of the renewal of access codes (also on ``POST
        /api/v1/jobs/codes-renewal``)."""
        return self._daily("codes", self.codes.run if self.codes else None,
                           "renewal of access codes")

    def run_fastag(self) -> dict[str, int]:
        """One pass of the FITkit re-check (also on ``POST /api/v1/jobs/fastag-recheck``)."""
        return self._daily("fastag", self.fastag.recheck if self.fastag else None,
                           "FITkit re-check")

    def _daily(self, job: str, run: Callable[[], dict[str, int]] | None,
               what: str) -> dict[str, int]:
        """A daily job's pass, timed; its counts (none when it is not set up or failed)."""
        if run is None:
            return {}
        with self._timed(job):
            try:
                return run()
            except Exception:
                log.exception("%s failed", what)
                return {}

    def run_forward(self, due_only: bool = True) -> dict[str, int]:
        """Forward pending events to partner apps (one process at a time); with *due_only*
        False, also those waiting out a back-off (``POST /api/v1/jobs/partner-forward``)."""
        if self.forwarder is None:
            return {}
        with self._timed("forward"):
            try:
                got = self.forwarder.deliver_once() if due_only else self.forwarder.deliver()
            except Exception:
                log.exception("forwarding to partner apps failed")
                return {}
        return got | {"pending": self.forwarder.pending()}

    def _due(self, db: Database, name: str, period_s: float) -> bool:
        """Whether *name* last ran (in any process) at least *period_s* ago; if so, claim it.
        Called only while holding the job's lock."""
        now = time.time()
        with db.write() as c:
            last = jobs_store.last_run(c, name)
            if last is not None and now - last < period_s * 0.9:
                return False
            jobs_store.claim_run(c, name, now, self.holder)
        return True

    def run_transitions(self) -> dict[str, int]:
        """One pass of the status machine over every live subscription."""
        with self._timed("transitions"):
            return self._transitions()

    def _deliver(self) -> None:
        assert self.notifier is not None
        with self._timed("deliver"):
            self.notifier.deliver_once()

    def _timed(self, job: str) -> AbstractContextManager:
        """A run of *job*, timed into the process's metrics when it has them."""
        return self.metrics.job_duration.labels(job).time() if self.metrics else nullcontext()

    def _transitions(self) -> dict[str, int]:
        t0 = time.perf_counter()
        try:
            moved = self.subs.transition()
            if self.notifier is not None:
                self.notifier.scan_expiry()
        except Exception:
            log.exception("subscription status job failed")
            return {}
        self.runs += 1
        self.last_ms = (time.perf_counter() - t0) * 1000
        if moved:
            log.info("subscription statuses moved: %s", moved)
        return moved

    def on_event(self, event: Event) -> None:
        """A pass at a parking barrier: the vehicle is now inside or outside that parking. A
        barrier of a parking that failed to open: staff are told."""
        if event.type is EventType.PASS and event.data.get("parking") and event.data.get("vrn"):
            # The parking is the gate's own, whatever the event's data says: a box assigned a
            # gate of one parking cannot move vehicles in and out of another.
            row = society_store.gate(self.subs.db.conn, event.site, event.gate)
            if row is None or row["parking"] != event.data["parking"]:
                self.counters.inc("refused_pass_parking")
                log.warning("pass event %s of %s/%s names parking %r, not its gate's: ignored",
                            event.id, event.site, event.gate, event.data["parking"])
                return
            self.subs.on_pass(row["parking"], event.data["vrn"],
                              event.data.get("direction", "entry"), event.at)
        elif (event.type is EventType.ALERT and event.data.get("alert") == "barrier_failed"
              and self.notifier is not None):
            row = society_store.gate(self.subs.db.conn, event.site, event.gate)
            if row is not None and row["parking"]:
                self.notifier.barrier_failed(row["parking"], event.gate, event.at,
                                             str(event.data.get("detail") or ""))
