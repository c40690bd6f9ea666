"""The people behind access codes, as staff manage them: a site's committee with its mandates,
what each person has paid for subscription codes, and the check report
(``cloud.codes.eligibility``). None of these is a rules change: the gates hold codes, not
people; a change of eligibility shows at the code's next renewal."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from cloud.codes import eligibility
from cloud.errors import CloudError
from cloud.refusals import Refusal
from cloud.storage import Database, society
from cloud.storage import codes as store
from shared.clock import Clock


class CodeHolders:
    """Committee seats, code payments and the check report of every site."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def _site(self, site: str) -> None:
        if not society.site_exists(self.db.conn, site):
            raise CloudError(404, Refusal.UNKNOWN_SITE, f"site {site!r} does not exist")

    def seat(self, site: str, resident: str, role: str, flat: str | None, external: bool,
             mandate_start: date | None, mandate_end: date | None) -> dict[str, Any]:
        """Seat a resident on the site's committee, or change their seat."""
        self._site(site)
        with self.db.write() as c:
            eligibility.set_member(c, site, resident, role, flat, external, mandate_start,
                                   mandate_end, self.clock.now())
        return next(m for m in self.committee(site) if m["resident"] == resident)

    def unseat(self, site: str, resident: str) -> dict[str, Any]:
        """A member leaves the site's committee."""
        with self.db.write() as c:
            if not store.remove_member(c, site, resident):
                raise CloudError(404, Refusal.UNKNOWN_MEMBER, f"{resident} is not on the committee "
                                 f"of {site}")
        return {"site": site, "resident": resident, "removed": True}

    def committee(self, site: str) -> list[dict[str, Any]]:
        """The site's committee, by role and name, each seat with whether its mandate is
        live today."""
        self._site(site)
        today = self.clock.now().date()
        return [eligibility.member_view(m, today) for m in store.members(self.db.conn, site)]

    def pay(self, site: str, resident: str, paid_through: date) -> dict[str, Any]:
        """Record that a person's subscription codes are paid up to a day (the receipt's
        optional item was paid); a date before what is recorded is refused."""
        self._site(site)
        now = self.clock.now()
        through = datetime.combine(paid_through, datetime.max.time(), now.tzinfo).isoformat()
        with self.db.write() as c:
            old = store.payment(c, site, resident)
            if old is None:
                raise CloudError(404, Refusal.NO_SUBSCRIPTION_CODES, f"{resident} holds no "
                                 f"subscription codes at {site}")
            if through < old["paid_through"]:
                raise CloudError(409, Refusal.PAID_ALREADY, f"{resident} has paid up to "
                                 f"{old['paid_through'][:10]} already")
            store.set_payment(c, site, resident, old["courtesy_until"], through,
                              now.isoformat())
            row = store.payment(c, site, resident)
        assert row is not None
        return {"site": site, "resident": resident, "courtesy_until": row["courtesy_until"],
                "paid_through": row["paid_through"]}

    def check(self, site: str) -> list[dict[str, Any]]:
        """The check report of a site (``cloud.codes.eligibility.check``)."""
        self._site(site)
        with self.db.read() as c:
            return eligibility.check(c, site, self.clock.now().date())
