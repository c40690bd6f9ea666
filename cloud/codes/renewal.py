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

from cloud.codes import code_rule, duration, eligibility, passes
from cloud.society.rules import RulesService
from cloud.storage import Row, Tx, residents
from cloud.storage import codes as store
from shared.contract import Change

log = logging.getLogger(__name__)
BATCH = 2000


@dataclass
class _Site:
    """What the job needs to know of one site's people, read once per run."""

    cfg: Row
    kinds: dict[str, set[str]] = field(default_factory=dict)
    paid: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, c: Tx, cfg: Row, today: date) -> _Site:
        site = cls(cfg)
        for r in residents.of_site(c, cfg["site"]):
            if not r["company"]:
                site.kinds.setdefault(r["id"], set()).add(r["role"])
        for m in store.members(c, cfg["site"]):
            if not m["company"] and eligibility.mandate_live(m, today):
                site.kinds.setdefault(m["resident"], set()).add("committee")
        site.paid = {k: r["paid_through"] for k, r in store.payments(c, cfg["site"]).items()}
        return site

    def entitled(self, row: Row, today: date) -> bool:
        """Whether a code's holder still earns its renewal under the code's regime."""
        regime = eligibility.regime(self.cfg, self.kinds.get(row["holder"], set()))
        if row["regime"] == "free":
            return regime == "free"
        paid = self.paid.get(row["holder"])
        return regime is not None and paid is not None and \
            datetime.fromisoformat(paid).date() >= today


def _renew_before(cfg: Row, regime: str | None) -> timedelta:
    return timedelta(days=int(cfg["renew_before_free" if regime == "free"
                                  else "renew_before_subscription"]))


def outcome(row: Row, site: _Site, now: datetime) -> tuple[str, dict[str, Any]]:
    """What the job does with one due code: ``renewed``, ``lapsing``, ``expired`` or
    ``later`` (not due yet), and the fields it changes."""
    cfg, today = site.cfg, now.date()
    if row["kind"] == "visitor":
        end = datetime.fromisoformat(row["valid_until"])
        return ("expired", {"status": "expired"}) if end <= now else ("later", {})
    issued = row["status"] == "issued"
    end = datetime.fromisoformat(row["activate_by"] if issued else row["valid_until"])
    if end - _renew_before(cfg, row["regime"]) > now:
        return "later", {}
    if site.entitled(row, today) and (row["regime"] == "free" or not issued):
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

    def __init__(self, rules: RulesService) -> None:
        self.rules = rules
        self.db = rules.db
        self.clock = rules.clock

    def run(self, batch: int = BATCH) -> dict[str, int]:
        """One pass over every due code; counts of what happened."""
        out = dict.fromkeys(("checked", "renewed", "lapsing", "expired"), 0)
        now = self.clock.now()
        with self.db.read() as c:
            cfgs = {r["site"]: r for r in store.all_settings(c)}
        if not cfgs:
            return out
        ahead = max(max(int(r["renew_before_free"]), int(r["renew_before_subscription"]))
                    for r in cfgs.values())
        horizon = (now + timedelta(days=ahead)).isoformat()
        sites: dict[str, _Site] = {}
        for status, end in (("active", "valid_until"), ("issued", "activate_by")):
            after = ("", "")
            while True:
                with self.db.read() as c:
                    rows = store.due(c, status, horizon, after, batch)
                    for s in {r["site"] for r in rows} - set(sites):
                        sites[s] = _Site.read(c, cfgs[s], now.date())
                if not rows:
                    break
                after = (rows[-1][end], rows[-1]["id"])
                self._batch(rows, sites, now, out)
        return out

    def _batch(self, rows: list[Row], sites: dict[str, _Site], now: datetime,
               out: dict[str, int]) -> None:
        by_site: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            out["checked"] += 1
            what, _ = outcome(row, sites[row["site"]], now)
            if what == "lapsing":
                out["lapsing"] += 1
            elif what != "later":
                by_site[row["site"]].append(row["id"])
        for site, ids in by_site.items():
            for what, n in self._apply(site, ids, sites[site], now).items():
                out[what] += n

    def _apply(self, site: str, ids: list[str], view: _Site, now: datetime) -> dict[str, int]:
        """One site's renewals and expiries as one rules change (each code read again in it)."""
        done: dict[str, int] = defaultdict(int)

        def fn(c: Tx) -> list[Change]:
            changes: list[Change] = []
            for cid in ids:
                row = store.get(c, cid)
                if row is None or row["status"] not in ("issued", "active"):
                    continue
                what, fields = outcome(row, view, now)
                if not fields:
                    continue
                store.update(c, cid, **fields)
                new = store.get(c, cid)
                assert new is not None
                changes.append(Change(op="code.upsert", code=code_rule(new)))
                if what == "expired":
                    changes += passes.dropped_schedule(c, site, cid)
                done[what] += 1
            return changes

        self.rules._change(site, fn)
        if done:
            log.info("codes of %s: %s", site, dict(done))
        return done
