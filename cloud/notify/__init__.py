"""Notifications through an outbox: residents' expiry warnings and staff's "barrier failed to
open", delivered over a webhook and e-mail (SMTP).

A notification is written once under a unique key, with one delivery row per channel; a
delivery stays pending, and is retried, until its channel accepts it, so nothing is lost while a
channel is down, and a key written twice is one notification, so nothing is sent twice.

The webhook is signed the Standard Webhooks way (``shared.webhooks``: ``webhook-id`` is the
notification's key, the same on every retry) with the operator's ``webhook_secret``, and each
call has a total deadline and an answer cap (``cloud.outbound``).
"""

from __future__ import annotations

import json
import logging
import smtplib
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from cloud.outbound import CallFailed, Outbound
from cloud.storage import Database, Row, Tx
from cloud.storage import notify as store
from cloud.storage import parking as parking_store
from shared import webhooks
from shared.clock import Clock
from shared.retry import backoff_s

log = logging.getLogger(__name__)
MAIL_GAP = timedelta(minutes=15)  # staff e-mail about a parking's barrier: at most this often


def warning_lead(units: int, unit: str) -> timedelta | None:
    """How long before the end a resident is warned: paid 1–4 hours → 15 min; longer
    (4+ hours, any daily rent) → 1 hour; shorter than an hour → not at all."""
    hours = units * (24 if unit == "daily" else 1)
    if hours < 1:
        return None
    return timedelta(minutes=15) if hours < 4 else timedelta(hours=1)


@dataclass
class Channels:
    """Where notifications go; a channel left empty is off."""

    webhook_url: str = ""
    webhook_secret: str = ""  # signs every webhook call (``whsec_…``, or any text)
    smtp_host: str = ""
    smtp_port: int = 25
    mail_from: str = "gatepost@localhost"


class Notifier:
    """The outbox and its delivery worker."""

    def __init__(self, db: Database, clock: Clock, channels: Channels) -> None:
        self.db = db
        self.clock = clock
        self.channels = channels
        self._deliver_lock = threading.Lock()
        # The operator's own address: any target is allowed, but never a call without end.
        self._http = Outbound(None, deadline_s=10.0)

    # Writing ----------------------------------------------------------------------------------
    def enqueue(self, c: Tx, key: str, kind: str, subject: str,
                body: dict[str, Any], *, parking: str | None = None, sub: str | None = None,
                email_to: str = "") -> bool:
        """Add a notification inside the caller's transaction; False if *key* exists."""
        nid = store.add(c, key, kind, parking, sub, subject, json.dumps(body),
                        self.clock.now().isoformat())
        if nid is None:
            return False
        if self.channels.webhook_url:
            store.add_delivery(c, nid, "webhook", self.channels.webhook_url)
        if email_to and self.channels.smtp_host:
            store.add_delivery(c, nid, "email", email_to)
        return True

    def scan_expiry(self) -> int:
        """Warn residents whose paid time ends soon (once per subscription)."""
        now = self.clock.now()
        n = 0
        with self.db.write() as c:
            for s in parking_store.active_ending_after(c, now.isoformat()):
                lead = warning_lead(s["units"], s["unit"])
                end = datetime.fromisoformat(s["end"])
                if lead is None or end - now > lead:
                    continue
                n += self.enqueue(
                    c, f"expiry:{s['id']}:{s['end']}", "expiry_warning",
                    f"Your parking in space {s['space']} ends at {end:%H:%M}",
                    {"subscription": s["id"], "owner": s["owner"], "parking": s["parking"],
                     "space": s["space"], "ends_at": s["end"]},
                    parking=s["parking"], sub=s["id"])
        return n

    def barrier_failed(self, parking: str, gate: str, at: datetime, detail: str) -> None:
        """Tell staff a barrier of *parking* failed to open: every time by webhook, by e-mail at
        most once per 15 minutes per parking."""
        with self.db.write() as c:
            p = parking_store.parking(c, parking)
            if p is None:
                return
            last = store.last_mailed(c, "barrier_failed", parking)
            mail = p["staff_email"] if not last or \
                at - datetime.fromisoformat(last) >= MAIL_GAP else ""
            self.enqueue(c, f"barrier_failed:{parking}:{gate}:{at.isoformat()}",
                         "barrier_failed", f"{p['name']}: barrier {gate} failed to open",
                         {"parking": parking, "gate": gate, "at": at.isoformat(),
                          "detail": detail}, parking=parking, email_to=mail)

    # Delivering -------------------------------------------------------------------------------
    def deliver_once(self) -> dict[str, int]:
        """The periodic delivery run: skipped while another cloud process is delivering, so
        no notification goes out twice."""
        with self.db.exclusive("deliveries", wait=False) as mine:
            return self._deliver(due_only=True) if mine else {"sent": 0, "failed": 0}

    def deliver(self) -> dict[str, int]:
        """Try every pending delivery once, backed off or not; returns counts of sent and
        failed."""
        with self.db.exclusive("deliveries"):
            return self._deliver(due_only=False)

    def _deliver(self, due_only: bool) -> dict[str, int]:
        out = {"sent": 0, "failed": 0}
        with self._deliver_lock:
            now = self.clock.now()
            rows = store.pending(self.db.conn, now.isoformat() if due_only else None)
            for r in rows:
                try:
                    if r["channel"] == "webhook":
                        self._webhook(r)
                    else:
                        self._email(r)
                except Exception as exc:  # the channel is down: pending, tried after a back-off
                    out["failed"] += 1
                    later = now + timedelta(seconds=backoff_s(int(r["attempts"]) + 1))
                    with self.db.write() as c:
                        store.failed(c, r["notification"], r["channel"], str(exc)[:300],
                                     later.isoformat())
                    continue
                out["sent"] += 1
                with self.db.write() as c:
                    store.sent(c, r["notification"], r["channel"], self.clock.now().isoformat())
        return out

    def _webhook(self, r: Row) -> None:
        payload = {"id": r["notification"], "kind": r["kind"], "subject": r["subject"],
                   **json.loads(r["body"])}
        raw = json.dumps(payload).encode()
        headers = {"Idempotency-Key": r["key"]}
        if self.channels.webhook_secret:
            headers |= webhooks.headers(self.channels.webhook_secret, r["key"], raw)
        got = self._http.post(r["recipient"], raw, headers)
        if got.status >= 400:
            raise CallFailed(f"HTTP {got.status}")

    def _email(self, r: Row) -> None:
        msg = EmailMessage()
        msg["From"] = self.channels.mail_from
        msg["To"] = r["recipient"]
        msg["Subject"] = r["subject"]
        msg["Message-ID"] = f"<{r['key'].replace(':', '.')}@gatepost>"
        body = json.loads(r["body"])
        msg.set_content("\n".join(f"{k}: {v}" for k, v in body.items()))
        with smtplib.SMTP(self.channels.smtp_host, self.channels.smtp_port, timeout=10) as s:
            s.send_message(msg)

    def pending(self) -> int:
        """Deliveries still waiting for their channel."""
        return store.pending_count(self.db.conn)
