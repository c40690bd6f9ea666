"""Edits of running subscriptions: their space, owner, users, payment documents and
vehicles, each change that the gates need published to the site's gates."""

from __future__ import annotations

import json
from typing import Any

from cloud.errors import CloudError
from cloud.ledger import Ledger
from cloud.parking.chains import (
    chain_of,
    changes_of,
    check_listable,
    check_space_free,
    history,
    parking_country,
    site_of,
    sub_row,
    vehicle_of,
)
from cloud.parking.rules import _t
from cloud.parking.subscriptions import SubscriptionService
from cloud.refusals import Refusal
from cloud.storage import Database, Row, Tx
from cloud.storage import subscriptions as store
from shared import vrn as vrn_rules
from shared.clock import Clock
from shared.contract import Change
from shared.parking import DONE


class SubscriptionChanges:
    """Changes to a subscription's space, owner, users, documents and vehicles."""

    def __init__(self, db: Database, clock: Clock, ledger: Ledger,
                 subscriptions: SubscriptionService) -> None:
        self.db = db
        self.clock = clock
        self.ledger = ledger
        self.subscriptions = subscriptions

    def change_space(self, sub: str, space: int, by: str = "staff") -> dict[str, Any]:
        """Move a live subscription (and its later ones) to a free space."""
        now = self.clock.now()
        r = sub_row(self.db.conn, sub)
        site = site_of(self.db.conn, r["parking"])

        def fn(c: Tx) -> list[Change]:
            chain = chain_of(c, sub)
            rows = [sub_row(c, x) for x in chain]
            if rows[0]["status"] in DONE:
                raise CloudError(409, Refusal.NOT_LIVE,
                                 f"subscription {sub} is {rows[0]['status']}")
            check_space_free(c, r["parking"], space, now, _t(rows[-1]["end"]), set())
            for x in chain:
                store.update(c, x, space=space)
            history(c, sub, now, "space_changed", f"{r['space']} → {space} by {by}")
            return changes_of(c, chain)

        delta = self.ledger.change(site, fn)
        return self.subscriptions.get(sub) | {"rules_version": delta.to_version}

    def change_owner(self, sub: str, owner: str, by: str = "staff") -> dict[str, Any]:
        """Hand a subscription to another resident."""
        now = self.clock.now()
        with self.db.write() as c:
            r = sub_row(c, sub)
            store.update(c, sub, owner=owner)
            history(c, sub, now, "owner_changed", f"{r['owner']} → {owner} by {by}")
        return self.subscriptions.get(sub)

    def _editable(self, c: Tx, sub: str, what: str) -> Row:
        """The row of *sub* if it is active or future (the seed's editable ones), else 409."""
        r = sub_row(c, sub)
        if r["status"] not in ("active", "future"):
            raise CloudError(409, Refusal.NOT_EDITABLE,
                             f"{what} on active or future subscriptions; {sub} is {r['status']}")
        return r

    def attach_documents(self, sub: str, documents: list[str], by: str = "staff") -> dict:
        """Attach payment documents (receipts) to an active or future subscription's latest
        payment; a free one gets a zero payment to carry them."""
        now = self.clock.now()
        with self.db.write() as c:
            self._editable(c, sub, "documents attach")
            pay = store.last_payment(c, sub)
            if pay is None:
                store.add_payment(c, sub, "rent", 0, now.isoformat(),
                                  documents_json=json.dumps(documents))
            else:
                store.set_documents(c, pay["id"],
                                    json.dumps(json.loads(pay["documents"]) + documents))
            history(c, sub, now, "documents_attached", f"{len(documents)} by {by}")
        return self.subscriptions.get(sub)

    def set_users(self, sub: str, users: list[str], by: str = "staff") -> dict[str, Any]:
        """Set who besides the owner may use an active or future subscription: they see it,
        drive in and out with its vehicles and open its barrier remotely."""
        now = self.clock.now()
        with self.db.write() as c:
            r = self._editable(c, sub, "users change")
            clean = list(dict.fromkeys(u.strip() for u in users if u.strip() != r["owner"]))
            store.update(c, sub, users=json.dumps(clean))
            history(c, sub, now, "users_changed",
                          f"{', '.join(clean) or 'none'} by {by}")
        return self.subscriptions.get(sub)

    def add_vehicle(self, sub: str, vehicle: dict[str, str], by: str = "staff") -> dict:
        """Add a vehicle (any one of them may use the space, one at a time)."""
        parking = sub_row(self.db.conn, sub)["parking"]
        v = vehicle_of(vehicle, parking_country(self.db.conn, parking))
        now = self.clock.now()
        site = site_of(self.db.conn, parking)

        def fn(c: Tx) -> list[Change]:
            check_listable(c, by, [v["vrn"]])
            store.put_vehicle(c, sub, v["vrn"], v["type"], v["make"])
            history(c, sub, now, "vehicle_added", f"{v['vrn']} by {by}")
            return changes_of(c, [sub])

        delta = self.ledger.change(site, fn)
        return self.subscriptions.get(sub) | {"rules_version": delta.to_version}

    def remove_vehicle(self, sub: str, vrn: str, by: str = "staff") -> dict[str, Any]:
        """Remove a vehicle; the last one cannot go."""
        plate = vrn_rules.normalise(vrn)
        now = self.clock.now()
        site = site_of(self.db.conn, sub_row(self.db.conn, sub)["parking"])

        def fn(c: Tx) -> list[Change]:
            if store.vehicle_count(c, sub) <= 1:
                raise CloudError(409, Refusal.LAST_VEHICLE,
                                 "a subscription keeps at least one vehicle")
            if not store.remove_vehicle(c, sub, plate):
                raise CloudError(404, Refusal.UNKNOWN_VEHICLE, f"{plate} is not on {sub}")
            history(c, sub, now, "vehicle_removed", f"{plate} by {by}")
            return changes_of(c, [sub])

        delta = self.ledger.change(site, fn)
        return self.subscriptions.get(sub) | {"rules_version": delta.to_version}

