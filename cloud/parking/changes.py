"""Changes to running subscriptions: deactivation with refunds, space, owner, vehicles, debt,
presence, and the status machine driven by time and passes."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import datetime
from typing import Any, Literal

from cloud.errors import CloudError
from cloud.parking.payments import PaymentProvider
from cloud.parking.service import HOLDING
from cloud.parking.subscriptions import DONE, SubscriptionService, _t, standing_of
from cloud.storage import Row, Tx
from cloud.storage import subscriptions as store
from shared import vrn as vrn_rules
from shared.contract import Change, PresenceRule
from shared.parking import LIVE, UNIT, debt, refund_remaining, whole_units

log = logging.getLogger(__name__)
RefundMode = Literal["none", "manual", "remaining", "full"]


# Held while statuses move or a pass changes presence, by one cloud process at a time.
STATUS_LOCK = "subscription-status"

class Subscriptions(SubscriptionService):
    """The whole life of subscriptions (creation and reads come from the base class)."""

    provider: PaymentProvider | None = None  # set by the app when a provider is configured
    callback_url: str = ""
    payment_secret: str = ""
    rejected_callbacks = 0

    def start_payment(self, sub: str) -> dict[str, Any]:
        """Open the provider's payment for a resident's draft; returns where to pay."""
        if self.provider is None:
            raise CloudError(503, "no_payment_provider", "no payment provider is configured")
        r = self.row(self.db.conn, sub)
        if r["status"] != "draft":
            raise CloudError(409, "not_awaiting_payment", f"subscription {sub} is {r['status']}")
        opened = self.provider.open(r["amount"], sub, self.callback_url)
        with self.db.write() as c:
            self._history(c, sub, self.clock.now(), "payment_opened", opened["id"])
        return {**self.get(sub), "payment": opened}

    def _refund_through_provider(self, c: Tx, chain: list[str],
                                 total: int) -> None:
        """Send *total* back over the app payments of *chain*, newest first."""
        assert self.provider is not None
        left = total
        for pay in store.refundable(c, chain):
            part = min(left, pay["amount"])
            if part > 0:
                self.provider.refund(pay["reference"], part)
                left -= part

    def deactivate(self, sub: str, *, refund: RefundMode = "none", amount: int | None = None,
                   by: str = "staff") -> dict[str, Any]:
        """Archive *sub* and every later one of its chain (never earlier ones), with a refund
        when the parking allows it and the rent was paid in the app."""
        now = self.clock.now()
        r = self.row(self.db.conn, sub)
        p = self.parking.row(self.db.conn, r["parking"])

        def fn(c: Tx) -> list[Change]:
            first, *later = self._chain(c, sub)
            chain = [first] + [x for x in later if self.row(c, x)["status"] not in DONE]
            drafts = [x for x in chain if self.row(c, x)["status"] == "draft"]  # never paid
            chain = [x for x in chain if x not in drafts]
            for sid in chain:
                s = self.row(c, sid)
                st = standing_of(s, self.inside(c, sid), now)
                if st.status in ("overdue", "repaid", *DONE):
                    raise CloudError(409, "cannot_deactivate",
                                     f"subscription {sid} is {st.status}")
            if self.inside(c, sub):
                raise CloudError(409, "vehicle_inside",
                                 "a vehicle of this subscription is inside the parking")
            rows = [self.row(c, sid) for sid in chain]
            total = 0
            if refund != "none":
                if not p["refunds"]:
                    raise CloudError(409, "refund_not_allowed",
                                     f"parking {p['id']} does not allow refunds")
                self._require_boxes_online(c, p["id"])
                if not all(x["paid_in_app"] for x in rows if x["amount"]):
                    raise CloudError(409, "refund_not_allowed",
                                     "paid outside the app: the system cannot know where to "
                                     "return the money")
                paid = sum(x["amount"] for x in rows)
                if refund == "full":
                    total = paid
                elif refund == "remaining":
                    total = sum(refund_remaining(x["amount"], x["units"], _t(x["start"]), now,
                                                 x["unit"]) for x in rows)
                else:
                    if amount is None or not 0 <= amount <= paid:
                        raise CloudError(422, "bad_refund", f"a manual refund is 0..{paid}")
                    total = amount
            for x in rows:
                store.update(c, x["id"], status="archive")
                self._history(c, x["id"], now, "deactivated", f"by {by}")
            for d in drafts:
                store.update(c, d, status="lapsed")
                self._history(c, d, now, "deactivated", f"unpaid, by {by}")
            if total and self.provider is not None:
                self._refund_through_provider(c, chain, total)
            if total:
                store.update(c, sub, refund=total)
                store.add_payment(c, sub, "refund", -total, now.isoformat())
            return self._changes(c, chain)

        delta = self.rules._change(p["site"], fn)
        got = self.get(sub)
        return got | {"refund": got["refund"] or 0, "rules_version": delta.to_version}

    @staticmethod
    def _require_boxes_online(c: Tx, parking: str) -> None:
        """A refund is final once paid, so it waits until every box serving the parking's
        barriers is online: an offline box may hold a pass (the car inside) not yet sent."""
        for r in store.box_of_barriers(c, parking):
            if r["availability"] != "online":
                raise CloudError(409, "gate_offline",
                                 f"box {r['edge']} of barrier {r['id']} is "
                                 f"{r['availability'] or 'unknown'}: its passes may not have "
                                 "reached the cloud. Refund when it is back online, or "
                                 "deactivate without a refund")

    def change_space(self, sub: str, space: int, by: str = "staff") -> dict[str, Any]:
        """Move a live subscription (and its later ones) to a free space."""
        now = self.clock.now()
        r = self.row(self.db.conn, sub)
        site = self._site(r["parking"])

        def fn(c: Tx) -> list[Change]:
            chain = self._chain(c, sub)
            rows = [self.row(c, x) for x in chain]
            if rows[0]["status"] in DONE:
                raise CloudError(409, "not_live", f"subscription {sub} is {rows[0]['status']}")
            self._check_space_free(c, r["parking"], space, now, _t(rows[-1]["end"]), set())
            for x in chain:
                store.update(c, x, space=space)
            self._history(c, sub, now, "space_changed", f"{r['space']} → {space} by {by}")
            return self._changes(c, chain)

        delta = self.rules._change(site, fn)
        return self.get(sub) | {"rules_version": delta.to_version}

    def change_owner(self, sub: str, owner: str, by: str = "staff") -> dict[str, Any]:
        """Hand a subscription to another resident."""
        now = self.clock.now()
        with self.db.write() as c:
            r = self.row(c, sub)
            store.update(c, sub, owner=owner)
            self._history(c, sub, now, "owner_changed", f"{r['owner']} → {owner} by {by}")
        return self.get(sub)

    def _editable(self, c: Tx, sub: str, what: str) -> Row:
        """The row of *sub* if it is active or future (the seed's editable ones), else 409."""
        r = self.row(c, sub)
        if r["status"] not in ("active", "future"):
            raise CloudError(409, "not_editable",
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
            self._history(c, sub, now, "documents_attached", f"{len(documents)} by {by}")
        return self.get(sub)

    def set_users(self, sub: str, users: list[str], by: str = "staff") -> dict[str, Any]:
        """Set who besides the owner may use an active or future subscription: they see it,
        drive in and out with its vehicles and open its barrier remotely."""
        now = self.clock.now()
        with self.db.write() as c:
            r = self._editable(c, sub, "users change")
            clean = list(dict.fromkeys(u.strip() for u in users if u.strip() != r["owner"]))
            store.update(c, sub, users=json.dumps(clean))
            self._history(c, sub, now, "users_changed",
                          f"{', '.join(clean) or 'none'} by {by}")
        return self.get(sub)

    def add_vehicle(self, sub: str, vehicle: dict[str, str], by: str = "staff") -> dict:
        """Add a vehicle (any one of them may use the space, one at a time)."""
        v = self._vehicle(vehicle)
        now = self.clock.now()
        site = self._site(self.row(self.db.conn, sub)["parking"])

        def fn(c: Tx) -> list[Change]:
            self.check_listable(c, by, [v["vrn"]])
            store.put_vehicle(c, sub, v["vrn"], v["type"], v["make"])
            self._history(c, sub, now, "vehicle_added", f"{v['vrn']} by {by}")
            return self._changes(c, [sub])

        delta = self.rules._change(site, fn)
        return self.get(sub) | {"rules_version": delta.to_version}

    def remove_vehicle(self, sub: str, vrn: str, by: str = "staff") -> dict[str, Any]:
        """Remove a vehicle; the last one cannot go."""
        plate = vrn_rules.normalise(vrn)
        now = self.clock.now()
        site = self._site(self.row(self.db.conn, sub)["parking"])

        def fn(c: Tx) -> list[Change]:
            if store.vehicle_count(c, sub) <= 1:
                raise CloudError(409, "last_vehicle", "a subscription keeps at least one vehicle")
            if not store.remove_vehicle(c, sub, plate):
                raise CloudError(404, "unknown_vehicle", f"{plate} is not on {sub}")
            self._history(c, sub, now, "vehicle_removed", f"{plate} by {by}")
            return self._changes(c, [sub])

        delta = self.rules._change(site, fn)
        return self.get(sub) | {"rules_version": delta.to_version}

    def pay_debt(self, sub: str, reference: str | None = None, by: str = "staff") -> dict:
        """Record the payment of an overdue subscription's debt: it becomes repaid, with one
        unit (a day or an hour) past the paid time to leave."""
        now = self.clock.now()
        r = self.row(self.db.conn, sub)
        site = self._site(r["parking"])

        def fn(c: Tx) -> list[Change]:
            s = self.row(c, sub)
            st = standing_of(s, self.inside(c, sub), now)
            if st.status != "overdue":
                raise CloudError(409, "no_debt", f"subscription {sub} is {st.status}")
            bands, cam = self._tariff(c, s["parking"], s["space"], s["unit"], bool(s["camera"]))
            owed = debt(_t(s["paid_through"]), now, s["unit"], bands, cam)
            n = whole_units(now - _t(s["paid_through"]), s["unit"])
            through = _t(s["paid_through"]) + n * UNIT[s["unit"]]
            store.update(c, sub, status="repaid", paid_through=through.isoformat())
            store.add_payment(c, sub, "debt", owed, now.isoformat(), reference)
            self._history(c, sub, now, "debt_paid", f"{owed} for {n} {s['unit']} units, by {by}")
            return self._changes(c, [sub])

        delta = self.rules._change(site, fn)
        return self.get(sub) | {"rules_version": delta.to_version}

    def usable(self, parking: str, vrn: str) -> str:
        """The subscription that lets *vrn* through a barrier of *parking* now (paid and not
        expired, or repaid within its exit window); 409 otherwise."""
        now = self.clock.now()
        c = self.db.conn
        plate = vrn_rules.normalise(vrn)
        for s in store.of_vehicle(c, parking, plate, LIVE):
            st = standing_of(s, self.inside(c, s["id"]), now)
            if st.status in ("active", "repaid"):
                return str(s["id"])
        raise CloudError(409, "subscription_not_usable",
                         f"{plate} has no paid, unexpired subscription at {parking}")

    # Presence and the status machine ---------------------------------------------------------
    def set_presence(self, parking: str, vrn: str, inside: bool, *, by: str = "staff",
                     at: datetime | None = None, publish: bool = True) -> dict[str, Any]:
        """Put a vehicle inside or outside (a pass, or staff correcting it by hand)."""
        with self.db.exclusive(STATUS_LOCK):
            return self._set_presence(parking, vrn, inside, by, at, publish)

    def _set_presence(self, parking: str, vrn: str, inside: bool, by: str,
                      at: datetime | None, publish: bool) -> dict[str, Any]:
        plate = vrn_rules.normalise(vrn)
        now = at or self.clock.now()
        site = self._site(parking)
        with self.db.write() as c:
            fresh = store.set_presence(c, parking, plate, inside, now.isoformat())
            if inside:
                self._reopen_if_archived_blind(c, parking, plate, now)
            for s in store.of_vehicle(c, parking, plate, LIVE) if fresh else ():
                store.log_occupancy(c, parking, s["space"], plate, s["id"], inside,
                                    now.isoformat(), by)
        version = None
        if publish:
            version = self.rules._change(site, lambda c: [Change(
                op="presence.set", presence=PresenceRule(vrn=plate, inside=inside,
                                                      parking=parking))]).to_version
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
                self._history(c, s["id"], self.clock.now(), "reopened",
                              f"entry at {entered.isoformat()} reported late")

    def _publish(self, site: str, ids: list[str]) -> None:
        def fn(c: Tx) -> list[Change]:
            return self._changes(c, ids)

        self.rules._change(site, fn)

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

