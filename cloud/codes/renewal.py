"""The daily job over access codes (apscheduler, once a day across cloud processes; also
``POST /api/v1/jobs/codes-renewal``), on the cloud's clock.

For each live code whose use (or, not yet activated, activation) window ends within its
regime's ``renew_before_*`` days:

- **free**: renewed while its holder is eligible under a free kind (a committee member with a
  live mandate…), even if never activated: an active code gets its duration again from its
  end, an issued one its activation window again;
- **subscription**: an active code is renewed while its holder is eligible and has paid up to
  the day of the check (the courtesy month counts as paid); an issued one is not renewed;
- otherwise it **lapses**: it stays usable to its end, as the seed says, and is then expired.

Where a site sets ``auto_issue``, the job then issues every eligible person who lacks them their
codes (``Codes.issue_all``), as the seed's robot generates the "additional" codes each day.

A code past its end (a visitor pass past its window too) is marked ``expired``; the gates refuse
a code past its end on their own clock already, so nothing opens in between. Each site's
outcomes go to its gates as one rules change per batch. Running it twice in a day changes
nothing the second time: a renewed code's end has moved past the horizon.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from cloud.codes import Codes, duration, eligibility, rewrite
from cloud.ledger import Ledger
from cloud.storage import Database, Row, Tx
from cloud.storage import codes as store
from shared.clock import Clock
from shared.contract import Change

log = logging.getLogger(__name__)
BATCH = 2000


@dataclass
class _People:
    """What the job needs to know of the holders of one batch of codes, read for that batch
    only (so the job's memory stays that of a batch, however many people the sites hold):
    their kinds at each site and what they have paid there."""

    kinds: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    paid: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def read(cls, c: Tx, rows: list[Row], today: date) -> _People:
        holders = sorted({r["holder"] for r in rows if r["kind"] == "person"})
        return cls(eligibility.kinds_by(c, holders, today),
                   {(r["site"], r["resident"]): r["paid_through"]
                    for r in store.holder_payments(c, holders)})

    def entitled(self, cfg: Row, row: Row, today: date) -> bool:
        """Whether a code's holder still earns its renewal under the code's regime."""
        key = (row["site"], row["holder"])
        regime = eligibility.regime(cfg, self.kinds.get(key, set()))
        if row["regime"] == "free":
            return regime == "free"
        paid = self.paid.get(key)
        return regime is not None and paid is not None and \
            datetime.fromisoformat(paid).date() >= today


def _renew_before(cfg: Row, regime: str | None) -> timedelta:
    return timedelta(days=int(cfg["renew_before_free" if regime == "free"
                                  else "renew_before_subscription"]))


def outcome(row: Row, cfg: Row, people: _People, now: datetime) -> tuple[str, dict[str, Any]]:
    """What the job does with one due code of a site (*cfg*, its settings): ``renewed``,
    ``lapsing``, ``expired`` or ``later`` (not due yet), and the fields it changes."""
    today = now.date()
    if row["kind"] == "visitor":
        end = datetime.fromisoformat(row["valid_until"])
        return ("expired", {"status": "expired"}) if end <= now else ("later", {})
    issued = row["status"] == "issued"
    end = datetime.fromisoformat(row["activate_by"] if issued else row["valid_until"])
    if end - _renew_before(cfg, row["regime"]) > now:
        return "later", {}
    if people.entitled(cfg, row, today) and (row["regime"] == "free" or not issued):
        days = int(cfg["activation_days"]) if issued else duration(cfg, row["regime"])
        new_end = end + timedelta(days=days)
        if new_end > now:
            return "renewed", {"activate_by" if issued else "valid_until": new_end.isoformat(),
                               "renewed_at": now.isoformat()}
    if end <= now:
        return "expired", {"status": "expired"}
    return "lapsing", {}


class Renewals:
    """The daily renewal job."""

    def __init__(self, db: Database, clock: Clock, ledger: Ledger) -> None:
        self.db = db
        self.clock = clock
        self.ledger = ledger

    def run(self, batch: int = BATCH) -> dict[str, int]:
        """One pass over every due code; counts of what happened."""
        out = dict.fromkeys(("checked", "renewed", "lapsing", "expired", "issued"), 0)
        now = self.clock.now()
        with self.db.read() as c:
            cfgs = {r["site"]: r for r in store.all_settings(c)}
        if not cfgs:
            return out
        ahead = max(max(int(r["renew_before_free"]), int(r["renew_before_subscription"]))
                    for r in cfgs.values())
        horizon = (now + timedelta(days=ahead)).isoformat()
        for status, end in (("active", "valid_until"), ("issued", "activate_by")):
            after = ("", "")
            while True:
                with self.db.read() as c:
                    rows = store.due(c, status, horizon, after, batch)
                    people = _People.read(c, rows, now.date())
                if not rows:
                    break
                after = (rows[-1][end], rows[-1]["id"])
                self._batch(rows, cfgs, people, now, out)
        codes = Codes(self.db, self.clock, self.ledger)
        for site, cfg in sorted(cfgs.items()):
            if cfg["auto_issue"]:
                out["issued"] += int(codes.issue_all(site, None, "job:codes")["issued"])
        return out

    def _batch(self, rows: list[Row], cfgs: dict[str, Row], people: _People, now: datetime,
               out: dict[str, int]) -> None:
        by_site: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            out["checked"] += 1
            what, _ = outcome(row, cfgs[row["site"]], people, now)
            if what == "lapsing":
                out["lapsing"] += 1
            elif what != "later":
                by_site[row["site"]].append(row["id"])
        for site, ids in by_site.items():
            for what, n in self._apply(site, ids, cfgs[site], people, now).items():
                out[what] += n

    def _apply(self, site: str, ids: list[str], cfg: Row, people: _People,
               now: datetime) -> dict[str, int]:
        """One site's renewals and expiries as one rules change (each code read again in it)."""
        done: dict[str, int] = defaultdict(int)

        def fn(c: Tx) -> list[Change]:
            edits = []
            for row in store.get_many(c, ids):  # read again, in the change's transaction
                if row["status"] not in store.LIVE:
                    continue
                what, fields = outcome(row, cfg, people, now)
                if fields:
                    edits.append((row, fields))
                    done[what] += 1
            return rewrite(c, site, edits)

        self.ledger.change(site, fn)
        if done:
            log.info("codes of %s: %s", site, dict(done))
        return done
