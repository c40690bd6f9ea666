"""Money on subscriptions: a resident's draft paid through the provider (opened, then
confirmed by its verified callback), deactivation with refunds sent back the way the money
came, and the payment of an overdue subscription's debt."""

from __future__ import annotations

from typing import Any, Literal

from cloud.errors import CloudError
from cloud.ledger import Ledger
from cloud.parking.chains import (
    chain_of,
    changes_of,
    history,
    inside,
    site_of,
    standing_of,
    sub_row,
    tariff_of,
)
from cloud.parking.payments import PaymentProvider
from cloud.parking.rules import _t
from cloud.parking.service import parking_row
from cloud.parking.subscriptions import SubscriptionService
from cloud.refusals import Refusal
from cloud.storage import Database, Tx
from cloud.storage import subscriptions as store
from shared.clock import Clock
from shared.contract import Change
from shared.parking import DONE, UNIT, debt, refund_remaining, whole_units

RefundMode = Literal["none", "manual", "remaining", "full"]


class Billing:
    """Payments, refunds and debts of subscriptions; *provider* is the payment provider when
    one is configured, its callbacks reaching *callback_url* signed with *payment_secret*."""

    def __init__(self, db: Database, clock: Clock, ledger: Ledger,
                 subscriptions: SubscriptionService, provider: PaymentProvider | None = None,
                 callback_url: str = "", payment_secret: str = "") -> None:
        self.db = db
        self.clock = clock
        self.ledger = ledger
        self.subscriptions = subscriptions
        self.provider = provider
        self.callback_url = callback_url
        self.payment_secret = payment_secret
        self.rejected_callbacks = 0

    def start_payment(self, sub: str) -> dict[str, Any]:
        """Open the provider's payment for a resident's draft; returns where to pay."""
        if self.provider is None:
            raise CloudError(503, Refusal.NO_PAYMENT_PROVIDER, "no payment provider is configured")
        r = sub_row(self.db.conn, sub)
        if r["status"] != "draft":
            raise CloudError(409, Refusal.NOT_AWAITING_PAYMENT,
                             f"subscription {sub} is {r['status']}")
        opened = self.provider.open(r["amount"], sub, self.callback_url)
        with self.db.write() as c:
            history(c, sub, self.clock.now(), "payment_opened", opened["id"])
        return {**self.subscriptions.get(sub), "payment": opened}

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
        r = sub_row(self.db.conn, sub)
        p = parking_row(self.db.conn, r["parking"])

        def fn(c: Tx) -> list[Change]:
            first, *later = chain_of(c, sub)
            chain = [first] + [x for x in later if sub_row(c, x)["status"] not in DONE]
            drafts = [x for x in chain if sub_row(c, x)["status"] == "draft"]  # never paid
            chain = [x for x in chain if x not in drafts]
            for sid in chain:
                s = sub_row(c, sid)
                st = standing_of(s, inside(c, sid), now)
                if st.status in ("overdue", "repaid", *DONE):
                    raise CloudError(409, Refusal.CANNOT_DEACTIVATE,
                                     f"subscription {sid} is {st.status}")
            if inside(c, sub):
                raise CloudError(409, Refusal.VEHICLE_INSIDE,
                                 "a vehicle of this subscription is inside the parking")
            rows = [sub_row(c, sid) for sid in chain]
            total = 0
            if refund != "none":
                if not p["refunds"]:
                    raise CloudError(409, Refusal.REFUND_NOT_ALLOWED,
                                     f"parking {p['id']} does not allow refunds")
                self._require_boxes_online(c, p["id"])
                if not all(x["paid_in_app"] for x in rows if x["amount"]):
                    raise CloudError(409, Refusal.REFUND_NOT_ALLOWED,
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
                        raise CloudError(422, Refusal.BAD_REFUND, f"a manual refund is 0..{paid}")
                    total = amount
            for x in rows:
                store.update(c, x["id"], status="archive")
                history(c, x["id"], now, "deactivated", f"by {by}")
            for d in drafts:
                store.update(c, d, status="lapsed")
                history(c, d, now, "deactivated", f"unpaid, by {by}")
            if total and self.provider is not None:
                self._refund_through_provider(c, chain, total)
            if total:
                store.update(c, sub, refund=total)
                store.add_payment(c, sub, "refund", -total, now.isoformat())
            return changes_of(c, chain)

        delta = self.ledger.change(p["site"], fn)
        got = self.subscriptions.get(sub)
        return got | {"refund": got["refund"] or 0, "rules_version": delta.to_version}

    @staticmethod
    def _require_boxes_online(c: Tx, parking: str) -> None:
        """A refund is final once paid, so it waits until every box serving the parking's
        barriers is online: an offline box may hold a pass (the car inside) not yet sent."""
        for r in store.box_of_barriers(c, parking):
            if r["availability"] != "online":
                raise CloudError(409, Refusal.GATE_OFFLINE,
                                 f"box {r['edge']} of barrier {r['id']} is "
                                 f"{r['availability'] or 'unknown'}: its passes may not have "
                                 "reached the cloud. Refund when it is back online, or "
                                 "deactivate without a refund")


    def pay_debt(self, sub: str, reference: str | None = None, by: str = "staff") -> dict:
        """Record the payment of an overdue subscription's debt: it becomes repaid, with one
        unit (a day or an hour) past the paid time to leave."""
        now = self.clock.now()
        r = sub_row(self.db.conn, sub)
        site = site_of(self.db.conn, r["parking"])

        def fn(c: Tx) -> list[Change]:
            s = sub_row(c, sub)
            st = standing_of(s, inside(c, sub), now)
            if st.status != "overdue":
                raise CloudError(409, Refusal.NO_DEBT, f"subscription {sub} is {st.status}")
            bands, cam = tariff_of(c, s["parking"], s["space"], s["unit"], bool(s["camera"]))
            owed = debt(_t(s["paid_through"]), now, s["unit"], bands, cam)
            n = whole_units(now - _t(s["paid_through"]), s["unit"])
            through = _t(s["paid_through"]) + n * UNIT[s["unit"]]
            store.update(c, sub, status="repaid", paid_through=through.isoformat())
            store.add_payment(c, sub, "debt", owed, now.isoformat(), reference)
            history(c, sub, now, "debt_paid", f"{owed} for {n} {s['unit']} units, by {by}")
            return changes_of(c, [sub])

        delta = self.ledger.change(site, fn)
        return self.subscriptions.get(sub) | {"rules_version": delta.to_version}


    def confirm_payment(self, sub: str, amount: int, reference: str) -> dict[str, Any]:
        """A verified payment of a resident's draft: it starts now (an extension: where its
        chain ends) and counts as paid in the app. The same reference twice changes nothing
        (idempotent)."""
        now = self.clock.now()
        r = sub_row(self.db.conn, sub)
        site = site_of(self.db.conn, r["parking"])

        def fn(c: Tx) -> list[Change]:
            if store.reference_seen(c, reference):
                return []
            s = sub_row(c, sub)
            live = standing_of(s, False, now)
            if live.status != "draft":
                raise CloudError(409, Refusal.NOT_AWAITING_PAYMENT,
                                 f"subscription {sub} is {live.status}, not awaiting payment")
            if amount != s["amount"]:
                raise CloudError(409, Refusal.WRONG_AMOUNT, f"{amount} paid, {s['amount']} due")
            if s["prev"]:  # an extension keeps its place: it starts where the chain ends
                start = _t(s["start"])
                status = "future" if start > now else "active"
            else:
                start, status = now, "active"
            end = start + s["units"] * UNIT[s["unit"]]
            store.update(c, sub, status=status, start=start.isoformat(), end=end.isoformat(),
                         paid_through=end.isoformat(), paid_in_app=1, hold_until=None)
            store.add_payment(c, sub, "rent", amount, now.isoformat(), reference)
            history(c, sub, now, "paid", f"in the app, ref {reference}")
            return changes_of(c, [s["prev"], sub] if s["prev"] else [sub])

        delta = self.ledger.change(site, fn)
        return self.subscriptions.get(sub) | {"rules_version": delta.to_version}
