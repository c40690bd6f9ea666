"""Where vehicles are and what follows from it: presence in a parking (a pass, or staff
correcting it), the occupancy log, and the status machine that time and presence drive
(``shared.parking.standing``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from cloud.ledger import Ledger
from cloud.parking.chains import changes_of, history, site_of, standing_of
from cloud.parking.rules import _t
from cloud.parking.service import HOLDING
from cloud.storage import Database, Tx
from cloud.storage import subscriptions as store
from shared import vrn as vrn_rules
from shared.clock import Clock
from shared.contract import Change, PresenceRule, PresenceSet
from shared.parking import LIVE

# Held while statuses move or a pass changes presence, by one cloud process at a time.
STATUS_LOCK = "subscription-status"


class Presence:
    """Presence, occupancy and the subscriptions' status machine."""

    def __init__(self, db: Database, clock: Clock, ledger: Ledger) -> None:
        self.db = db
        self.clock = clock
        self.ledger = ledger

    def set_presence(self, parking: str, vrn: str, inside: bool, *, by: str = "staff",
                     at: datetime | None = None, publish: bool = True) -> dict[str, Any]:
        """Put a vehicle inside or outside (a pass, or staff correcting it by hand)."""
        with self.db.exclusive(STATUS_LOCK):
            return self._set_presence(parking, vrn, inside, by, at, publish)

    def _set_presence(self, parking: str, vrn: str, inside: bool, by: str,
                      at: datetime | None, publish: bool) -> dict[str, Any]:
        plate = vrn_rules.normalise(vrn)
        now = at or self.clock.now()
        site = site_of(self.db.conn, parking)
        with self.db.write() as c:
            fresh = store.set_presence(c, parking, plate, inside, now.isoformat())
            if inside:
                self._reopen_if_archived_blind(c, parking, plate, now)
            for s in store.of_vehicle(c, parking, plate, LIVE) if fresh else ():
                store.log_occupancy(c, parking, s["space"], plate, s["id"], inside,
                                    now.isoformat(), by)
        version = None
        if publish:
            presence = PresenceRule(vrn=plate, inside=inside, parking=parking)
            version = self.ledger.change(
                site, lambda c: [PresenceSet(presence=presence)]).to_version
        self._transition(parking)
        return {"parking": parking, "vrn": plate, "inside": inside, "rules_version": version}

    def _reopen_if_archived_blind(self, c: Tx, parking: str, vrn: str,
                                  entered: datetime) -> None:
        """An entry that reaches the cloud late (the gate was offline) may show that a
        subscription the job archived as "ended while outside" in fact ended with the vehicle
        inside: put it back, and the job makes it overdue."""
        for s in store.archived_with_vehicle(c, parking, vrn):
            last = store.last_history(c, s["id"])
            if (last and last["what"] == "status" and last["detail"].endswith("→ archive")
                    and _t(s["start"]) <= entered < _t(s["end"])):
                store.update(c, s["id"], status="active")
                history(c, s["id"], self.clock.now(), "reopened",
                              f"entry at {entered.isoformat()} reported late")

    def _publish(self, site: str, ids: list[str]) -> None:
        def fn(c: Tx) -> list[Change]:
            return changes_of(c, ids)

        self.ledger.change(site, fn)

    def on_pass(self, gate_parking: str, vrn: str | None, direction: str, at: datetime) -> None:
        """A pass at a parking barrier, from the edge's events."""
        if vrn:
            self.set_presence(gate_parking, vrn, direction == "entry", by="pass", at=at,
                              publish=False)

    def transition(self, parking: str | None = None) -> dict[str, int]:
        """Bring every live subscription's stored status in line with the rules now; publish
        the changes per site. Returns how many moved to each status. One pass at a time across
        every cloud process: a second waits, then finds its moves already made."""
        with self.db.exclusive(STATUS_LOCK):
            return self._transition(parking)

    def _transition(self, parking: str | None) -> dict[str, int]:
        now = self.clock.now()
        moved: dict[str, int] = defaultdict(int)
        per_site: dict[str, list[str]] = defaultdict(list)
        c = self.db.conn
        rows = store.in_statuses(c, HOLDING, parking)
        inside = store.with_vehicle_inside(c)
        continued = store.continued(c, LIVE)
        updates = []
        for s in rows:
            st = standing_of(s, s["id"] in inside, now, s["id"] in continued)
            if st.status != s["status"]:
                updates.append((st.status, s["id"], s["status"]))
                per_site[s["site"]].append(s["id"])
                moved[st.status] += 1
        if updates:
            with self.db.write() as w:
                store.set_statuses(w, updates, now.isoformat())
        for site, ids in per_site.items():
            for i in range(0, len(ids), 500):
                self._publish(site, ids[i:i + 500])
        return dict(moved)

