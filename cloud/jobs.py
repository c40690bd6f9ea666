"""Work the cloud does on its own: the subscription status job, the daily re-check of FITkit
bindings and the daily renewal of access codes (apscheduler; each run by one cloud process per
period), and the parking's reactions to events from the gates (a pass at a parking barrier flips
the vehicle's presence; queued with the event by ``cloud.ingest.reactions``).

A periodic job is claimed as a **lease**: the claim says who runs it and until when, and the
holder renews it every third of ``lease_s`` while it runs. A holder that dies (or hangs with its
process) stops renewing, and once the lease has run out any process woken for the job takes it
over; a run that fails lets go of its claim, and the job is tried again after a back-off
(``shared/retry.py``). Only a run that completes marks the period done."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from apscheduler.schedulers.background import BackgroundScheduler

from cloud.codes.renewal import Renewals
from cloud.metrics import CloudMetrics
from cloud.notify import Notifier
from cloud.parking.presence import Presence
from cloud.partners.forward import Forwarder
from cloud.people.fastag import FastagBindings
from cloud.storage import Database, Row
from cloud.storage import jobs as jobs_store
from cloud.storage import society as society_store
from shared.contract import Event
from shared.counters import Counters
from shared.retry import backoff_s
from shared.wire.events import AlertData, AlertKind, PassData

log = logging.getLogger(__name__)
DAY_S = 86400.0


def due(row: Row | None, now: float, period_s: float) -> bool:
    """Whether a job (its ``job_runs`` row) may be claimed at *now*: nobody holds a live lease,
    a failed run has waited out its back-off, and the last completed run started at least
    *period_s* ago (less a tenth, so that a period's wake-ups never skip a whole period)."""
    if row is None:
        return True
    if row["lease_until"] is not None and float(row["lease_until"]) > now:
        return False
    if row["next_at"] is not None and float(row["next_at"]) > now:
        return False
    return now - float(row["last_at"]) >= period_s * 0.9


class Jobs:
    """The scheduler and the event hooks of one cloud process."""

    def __init__(self, db: Database, presence: Presence, every_s: float,
                 notifier: Notifier | None = None, lease_s: float = 120.0, *,
                 fastag: FastagBindings | None = None, forwarder: Forwarder | None = None,
                 codes: Renewals | None = None, counters: Counters | None = None,
                 metrics: CloudMetrics | None = None) -> None:
        self.db = db
        self.presence = presence
        self.every_s = every_s
        self.lease_s = lease_s
        self.notifier = notifier
        self.fastag = fastag  # the daily FITkit re-check, when set
        self.forwarder = forwarder  # events to partner apps, when set
        self.codes = codes  # the daily renewal of access codes, when set
        self.runs = 0
        self.last_ms = 0.0
        # The MQTT side's, when there is one.
        self.counters = counters if counters is not None else Counters()
        self.metrics = metrics  # the process's, when it serves /metrics
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
        # The daily jobs wake at least once a lease, so a dead holder's job is taken over
        # within about two leases.
        daily_wake = min(3600.0, self.every_s * 10, self.lease_s)
        if self.fastag is not None:
            self._scheduler.add_job(self._scheduled_fastag, "interval", seconds=daily_wake,
                                    id="fastag", max_instances=1, coalesce=True)
        if self.codes is not None:
            self._scheduler.add_job(self._scheduled_codes, "interval", seconds=daily_wake,
                                    id="codes", max_instances=1, coalesce=True)
        self._scheduler.start()

    def stop(self) -> None:
        """Stop the scheduler (a running job finishes first)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None

    def _scheduled_transitions(self) -> None:
        """The periodic pass: run by one cloud process per period, whichever comes first."""
        self._leased("transitions", self.every_s, self._transitions)

    def _scheduled_fastag(self) -> None:
        """The daily FITkit re-check: woken often, runs once a day across processes."""
        if self.fastag is not None:
            self._leased("fastag", DAY_S, self.fastag.recheck)

    def _scheduled_codes(self) -> None:
        """The daily renewal of access codes: woken often, runs once a day across
        processes."""
        if self.codes is not None:
            self._leased("codes", DAY_S, self.codes.run)

    def _leased(self, name: str, period_s: float, run: Callable[[], object]) -> bool:
        """Run *name* if it is due and this process claims it (``due``): under the job's lock
        only while reading and claiming, then under the lease, renewed while *run* runs.
        Whether it ran to completion."""
        db = self.db
        with db.exclusive(f"job-{name}", wait=False) as mine:
            if not mine:
                return False
            started = time.time()
            with db.write() as c:
                row = jobs_store.run_of(c, name)
                if not due(row, started, period_s):
                    return False
                jobs_store.claim(c, name, self.holder, started + self.lease_s)
        failures = int(row["attempts"]) if row is not None else 0
        beating = threading.Event()
        heart = threading.Thread(target=self._heartbeat, args=(name, beating),
                                 name=f"lease-{name}", daemon=True)
        heart.start()
        try:
            with self._timed(name):
                run()
        except Exception:
            later = time.time() + backoff_s(failures + 1)
            log.exception("job %s failed (%d in a row); tried again from %s", name,
                          failures + 1, time.strftime("%H:%M:%S", time.localtime(later)))
            with db.write() as c:
                jobs_store.failed(c, name, self.holder, later)
            return False
        finally:
            beating.set()
            heart.join()
        with db.write() as c:
            if not jobs_store.completed(c, name, self.holder, started):
                log.warning("job %s completed here after another process took it over", name)
        return True

    def _heartbeat(self, name: str, done: threading.Event) -> None:
        """Renew this process's lease of *name* every third of a lease until *done*."""
        while not done.wait(self.lease_s / 3):
            try:
                with self.db.write() as c:
                    mine = jobs_store.renew(c, name, self.holder, time.time() + self.lease_s)
            except Exception:  # the next beat tries again; the lease has two more in it
                log.exception("renewing the lease of job %s failed", name)
                continue
            if not mine:
                log.warning("job %s was taken over by another process", name)
                return

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

    def run_transitions(self) -> dict[str, int]:
        """One pass of the status machine over every live subscription (also on ``POST
        /api/v1/jobs/transitions``); nothing moved when it failed."""
        with self._timed("transitions"):
            try:
                return self._transitions()
            except Exception:
                log.exception("subscription status job failed")
                return {}

    def _deliver(self) -> None:
        assert self.notifier is not None
        with self._timed("deliver"):
            self.notifier.deliver_once()

    def _timed(self, job: str) -> AbstractContextManager:
        """A run of *job*, timed into the process's metrics when it has them."""
        return self.metrics.job_duration.labels(job).time() if self.metrics else nullcontext()

    def _transitions(self) -> dict[str, int]:
        t0 = time.perf_counter()
        moved = self.presence.transition()
        if self.notifier is not None:
            self.notifier.scan_expiry()
        self.runs += 1
        self.last_ms = (time.perf_counter() - t0) * 1000
        if moved:
            log.info("subscription statuses moved: %s", moved)
        return moved

    @staticmethod
    def pass_lane(event: Event) -> str | None:
        """The vehicle a pass at a parking barrier moved (its reactions, in order), or None."""
        body = event.body
        if isinstance(body, PassData) and body.parking and body.vrn:
            return f"parking:{event.site}:{body.vrn}"
        return None

    @staticmethod
    def alert_lane(event: Event) -> str | None:
        """The gate whose barrier failed to open, or None."""
        body = event.body
        if isinstance(body, AlertData) and body.alert == AlertKind.BARRIER_FAILED:
            return f"barrier:{event.site}:{event.gate}"
        return None

    def on_event(self, event: Event) -> None:
        """A pass at a parking barrier: the vehicle is now inside or outside that parking. A
        barrier of a parking that failed to open: staff are told. (Reactions to the stored
        event, ``cloud.ingest.reactions``: done again, they change nothing more.)"""
        body = event.body
        if isinstance(body, PassData) and body.vrn and self.pass_lane(event) is not None:
            # The parking is the gate's own, whatever the event's data says: a box assigned a
            # gate of one parking cannot move vehicles in and out of another.
            row = society_store.gate(self.db.conn, event.site, event.gate)
            if row is None or row["parking"] != body.parking:
                self.counters.inc("refused_pass_parking")
                log.warning("pass event %s of %s/%s names parking %r, not its gate's: ignored",
                            event.id, event.site, event.gate, body.parking)
                return
            self.presence.on_pass(row["parking"], body.vrn, body.direction or "", event.at)
        elif isinstance(body, AlertData) and self.alert_lane(event) is not None and \
                self.notifier is not None:
            row = society_store.gate(self.db.conn, event.site, event.gate)
            if row is not None and row["parking"]:
                self.notifier.barrier_failed(row["parking"], event.gate, event.at,
                                             body.detail or "")
