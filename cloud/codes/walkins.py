"""Walk-in visitors: a visitor without a pass tells the guard a flat; the guard asks from the
gate's panel; the flat's residents get the request (the notification outbox's webhook, and
their app: ``GET /api/v1/me/visitor-requests``); the first of them to answer approves or
denies; the panel shows the answer; the guard opens for an approved visitor, once, as a
``visitor_approved`` decision naming who approved.

A request comes from an edge box's key, for a gate that box was assigned (``cloud.fleet``); it
is answered within ``ANSWER_S`` or expires; an approval is good for one entry within
``ENTRY_S`` of the answer. The gate's decision event marks the request ``entered``.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from cloud.codes.passes import VISITOR_KINDS
from cloud.errors import CloudError
from cloud.fleet import Fleet
from cloud.notify import Notifier
from cloud.refusals import Refusal
from cloud.storage import Database, Row, residents
from cloud.storage import walkins as store
from shared.clock import Clock
from shared.contract import Event
from shared.vocab import Reason
from shared.wire.events import DecisionData

ANSWER_S = 600  # a request not answered in 10 minutes expires: the guard calls instead
ENTRY_S = 600  # an approval lets one entry in, within 10 minutes of the answer


def view(r: Row, now: datetime) -> dict[str, Any]:
    """A request as an answer, with its status as of *now* (``expired``: never answered in
    time, or approved and not used in time)."""
    status = r["status"]
    late = {"pending": r["expires_at"], "approved": r["answered_at"]}.get(status)
    grace = timedelta(seconds=ENTRY_S if status == "approved" else 0)
    if late and datetime.fromisoformat(late) + grace <= now:
        status = "expired"
    return {"id": r["id"], "site": r["site"], "gate": r["gate"], "flat": r["flat"],
            "name": r["name"], "kind": r["kind"], "phone": r["phone"], "vrn": r["vrn"],
            "status": status, "asked_by": r["asked_by"], "asked_at": r["asked_at"],
            "expires_at": r["expires_at"], "answered_at": r["answered_at"],
            "answered_by": r["answered_by"], "answered_name": r["answered_name"],
            "entered_at": r["entered_at"]}


class WalkIns:
    """Walk-in visitor requests of every site."""

    def __init__(self, db: Database, clock: Clock, fleet: Fleet,
                 notifier: Notifier | None = None) -> None:
        self.db, self.clock, self.fleet, self.notifier = db, clock, fleet, notifier

    def ask(self, edge: str | None, site: str, gate: str, flat: str, name: str, kind: str,
            asked_by: str, phone: str | None = None, vrn: str | None = None) -> dict[str, Any]:
        """The guard at *gate* asks *flat* to let a visitor in."""
        if kind not in VISITOR_KINDS:
            raise CloudError(422, Refusal.BAD_PASS, f"a visitor is a {', '.join(VISITOR_KINDS)}")
        if edge is not None and not self.fleet.may_speak(edge, site, gate):
            raise CloudError(403, Refusal.NOT_YOUR_GATE, f"gate {site}/{gate} is not this box's")
        now = self.clock.now()
        rid = f"V-{secrets.token_hex(6).upper()}"
        with self.db.write() as c:
            people = [r for r in residents.of_site(c, site) if r["flat"] == flat.strip()]
            if not people:
                raise CloudError(404, Refusal.UNKNOWN_FLAT, f"nobody lives in {flat} at {site}")
            store.insert(c, (rid, site, gate, edge or "staff", flat.strip(), name.strip(),
                             kind, phone, vrn.upper() if vrn else None, "pending", asked_by,
                             now.isoformat(), (now + timedelta(seconds=ANSWER_S)).isoformat()))
            if self.notifier is not None:
                self.notifier.enqueue(
                    c, f"visitor_request:{rid}", "visitor_request",
                    f"{name.strip()} ({kind}) is at the gate for {flat}", {
                        "request": rid, "site": site, "gate": gate, "flat": flat.strip(),
                        "visitor": name.strip(), "kind": kind, "vrn": vrn,
                        "residents": [{"id": p["id"], "phone": p["phone"]} for p in people],
                        "answer": f"/api/v1/me/visitor-requests/{rid}/approve"})
            row = store.get(c, rid)
        assert row is not None
        return view(row, now) | {"residents": len(people)}

    def get(self, site: str, rid: str) -> dict[str, Any]:
        """A request of a site, as it stands."""
        row = store.get(self.db.conn, rid)
        if row is None or row["site"] != site:
            raise CloudError(404, Refusal.UNKNOWN_REQUEST, f"no visitor request {rid} at {site}")
        return view(row, self.clock.now())

    def _homes(self, resident: str) -> list[tuple[str, str]]:
        return [(f["site"], f["flat"]) for f in residents.flats(self.db.conn, resident)]

    def pending_for(self, resident: str) -> list[dict[str, Any]]:
        """The requests waiting for an answer from the resident's flats."""
        now = self.clock.now()
        rows = store.pending_for(self.db.conn, self._homes(resident), now.isoformat())
        return [view(r, now) for r in rows]

    def answer(self, resident: str, rid: str, approve: bool) -> dict[str, Any]:
        """A resident of the flat approves or denies: the first answer stands."""
        row = store.get(self.db.conn, rid)
        if row is None or (row["site"], row["flat"]) not in self._homes(resident):
            raise CloudError(404, Refusal.UNKNOWN_REQUEST,
                             f"no visitor request {rid} for your flat")
        now = self.clock.now()
        who = residents.get(self.db.conn, resident)
        with self.db.write() as c:
            ok = store.answer(c, rid, "approved" if approve else "denied", now.isoformat(),
                              resident, who["name"] if who else resident, now.isoformat())
            row = store.get(c, rid)
        assert row is not None
        got = view(row, now)
        if not ok:
            if got["status"] == "expired":
                raise CloudError(409, Refusal.REQUEST_EXPIRED, "the visitor waited too long: the "
                                 "guard will call")
            raise CloudError(409, Refusal.REQUEST_ANSWERED, f"already {got['status']} by "
                             f"{got['answered_name']}")
        return got

    @staticmethod
    def lane(event: Event) -> str | None:
        """The request a gate opened for, or None: the event calls for no walk-in reaction."""
        body = event.body
        if isinstance(body, DecisionData) and body.reason == Reason.VISITOR_APPROVED and \
                body.visitor is not None and body.visitor.request:
            return f"walkin:{event.site}:{body.visitor.request}"
        return None

    def on_event(self, event: Event) -> None:
        """A gate opened for an approved visitor: the request is used (a reaction to the
        stored event: done again, it changes nothing)."""
        body = event.body
        if self.lane(event) is None or not isinstance(body, DecisionData) or \
                body.visitor is None:
            return
        with self.db.write() as c:
            row = store.get(c, str(body.visitor.request))
            if row is not None and row["site"] == event.site:
                store.entered(c, row["id"], event.at.isoformat(), event.id)
