"""Access codes and visitor passes (``docs/codes.md``): a site's settings, codes issued to
residents, passes residents issue to visitors, and what the gates report back.

Every code is drawn at random in the site's alphabet (``shared.codes``) and is **unique
forever**: its digest goes into a registry that is never emptied, and a draw that was ever
issued is drawn again. The cloud keeps the code (the holder's app shows it); the gates get only
its hash under the site's key (``cloud.codes.keys``: scrypt with a pepper that only the site's
boxes receive), with its status and times, and decide offline. A person holds at most
``per_person`` live codes at a site (default 2, at most 4), if eligible
(``cloud.codes.eligibility``), under the free or the subscription regime. A code is ``issued``;
it must be activated (in the app, or by its first use at a gate where the site says so) before
``activate_by`` (issue + ``activation_days``, default 5 years), and is then valid for its
regime's duration (free: ``duration_days``, default 60; subscription: ``subscription_days``,
never under 45). The daily job (``cloud.codes.renewal``) renews codes or lets them lapse.
Visitor passes: ``cloud.codes.passes``.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from cloud.codes import eligibility, keys, passes
from cloud.codes.pass_schedules import dropped_schedule
from cloud.errors import CloudError
from cloud.ledger import Ledger
from cloud.refusals import Refusal
from cloud.storage import Database, Row, Tx, residents
from cloud.storage import codes as store
from cloud.storage.codes import LIVE
from shared.clock import Clock
from shared.contract import Change, CodeRule, CodesConfig, CodeUpsert, Event
from shared.vocab import CredentialKind, Outcome
from shared.wire.events import DecisionData

DEFAULTS: dict[str, Any] = {"alphabet": "digits", "length": 8, "per_person": 2,
                            "activation_days": 1825, "duration_days": 60,
                            "first_use_activates": False, "eligible": "owner,tenant,committee",
                            "free": "committee", "subscription_days": 60,
                            "renew_before_free": 2, "renew_before_subscription": 2,
                            "auto_issue": False}
SUBSCRIPTION_FLOOR_DAYS = 45  # a subscription code is never usable for less
COURTESY_DAYS = 30  # a subscription's first month is not charged


def _dt(v: str | None) -> datetime | None:
    return datetime.fromisoformat(v) if v else None


def code_rule(r: Row | Mapping[str, Any]) -> CodeRule:
    """A code as its site's gates hold it."""
    return CodeRule(hash=r["hash"], site=r["site"], kind=r["kind"], status=r["status"],
                    valid_from=_dt(r["valid_from"]), valid_until=_dt(r["valid_until"]),
                    activate_by=_dt(r["activate_by"]), single_use=bool(r["single_use"]),
                    schedule=r["schedule"], flat=r["flat"], vrn=r["vrn"], label=r["label"])


def rewrite(c: Tx, site: str, edits: list[tuple[Row, dict[str, Any]]]) -> list[Change]:
    """Write new fields of codes of *site* (*edits*: each code's row and its new fields; one
    statement per set of fields) and return the rules changes: each code's upsert, and the
    removal of a pass's own schedule when its code is no longer live."""
    updates: dict[tuple[str, ...], list[tuple[Any, ...]]] = defaultdict(list)
    changes: list[Change] = []
    for row, fields in edits:
        updates[tuple(fields)].append((*fields.values(), row["id"]))
        new = dict(row) | fields
        changes.append(CodeUpsert(code=code_rule(new)))
        if new["status"] not in LIVE:
            changes += dropped_schedule(c, site, row["id"])
    for names, values in updates.items():
        store.update_many(c, names, values)
    return changes


def duration(cfg: Row, regime: str | None) -> int:
    """How many days an activated or renewed code of a regime is usable."""
    if regime == "subscription":
        return max(int(cfg["subscription_days"]), SUBSCRIPTION_FLOOR_DAYS)
    return int(cfg["duration_days"])


def view(r: Row, reveal: bool) -> dict[str, Any]:
    """A code as an answer: in clear for its holder, masked for staff."""
    code = r["code"] if reveal else "•" * (len(r["code"]) - 2) + r["code"][-2:]
    out = {k: r[k] for k in ("id", "site", "kind", "holder", "status", "issued_at",
                             "activate_by", "activated_at", "valid_from", "valid_until",
                             "flat", "vrn", "label", "visitor_kind", "used_at", "regime",
                             "renewed_at", "schedule")}
    return out | {"code": code, "single_use": bool(r["single_use"])}


class Codes:
    """The access codes of every site."""

    def __init__(self, db: Database, clock: Clock, ledger: Ledger) -> None:
        self.db = db
        self.clock = clock
        self.ledger = ledger

    @staticmethod
    def issued(c: Tx, cid: str, out: dict[str, Any]) -> list[Change]:
        """A code just written: its answer (in clear, for its holder) into *out*, its rule."""
        row = store.get(c, cid)
        assert row is not None
        out.update(view(row, reveal=True))
        return [CodeUpsert(code=code_rule(row))]

    def committed(self, site: str, fn: Any, out: dict[str, Any]) -> dict[str, Any]:
        """*fn* as one rules change of *site*; *out* (filled by *fn*) with its version."""
        delta = self.ledger.change(site, fn)
        return out | {"rules_version": delta.to_version}

    # Settings ---------------------------------------------------------------------------------
    def configure(self, site: str, **given: Any) -> dict[str, Any]:
        """Set a site's code settings (what is not given keeps its value, or the default);
        the site's key is drawn the first time (``rotate`` draws the next)."""
        def fn(c: Tx) -> list[Change]:
            old = store.settings(c, site)
            cur = {k: (old[k] if old is not None else v) for k, v in DEFAULTS.items()}
            cur |= {k: v for k, v in given.items() if v is not None}
            cur["eligible"] = eligibility.kinds_list(cur["eligible"], "eligible")
            cur["free"] = eligibility.kinds_list(cur["free"], "free")
            cur["subscription_days"] = max(int(cur["subscription_days"]),
                                           SUBSCRIPTION_FLOOR_DAYS)
            if not 0 <= int(cur["renew_before_free"]) <= 30 or \
                    not 0 <= int(cur["renew_before_subscription"]) <= 30:
                raise CloudError(422, Refusal.BAD_CODE_SETTINGS, "renewal is checked 0–30 days "
                                 "before expiry")
            if cur["alphabet"] not in ("digits", "letters"):
                raise CloudError(422, Refusal.BAD_CODE_SETTINGS, "alphabet is digits or letters")
            if not 8 <= int(cur["length"]) <= 10 or not 1 <= int(cur["per_person"]) <= 4 \
                    or int(cur["duration_days"]) < 1 or int(cur["activation_days"]) < 1:
                raise CloudError(422, Refusal.BAD_CODE_SETTINGS, "a code is 8–10 characters, a "
                                 "person holds 1–4, and lifetimes are whole days")
            key = keys.fresh(1) if old is None else {k: old[k] for k in keys.FIELDS}
            store.set_settings(c, (site, cur["alphabet"], int(cur["length"]),
                                   int(cur["per_person"]), int(cur["activation_days"]),
                                   int(cur["duration_days"]), int(bool(cur["first_use_activates"])),
                                   key["code_key"], self.clock.now().isoformat(),
                                   cur["eligible"], cur["free"], cur["subscription_days"],
                                   int(cur["renew_before_free"]),
                                   int(cur["renew_before_subscription"]),
                                   int(bool(cur["auto_issue"])), key["code_salt"],
                                   key["code_pepper"], key["code_cost"],
                                   key["code_generation"]))
            row = store.settings(c, site)
            assert row is not None
            # To the site's boxes only (their topic): the pepper rides with the settings.
            return [CodesConfig(code_config=keys.code_config(row, pepper=True))]

        delta = self.ledger.change(site, fn)
        return self.settings(site) | {"rules_version": delta.to_version}

    def settings(self, site: str) -> dict[str, Any]:
        """A site's code settings (never its key)."""
        row = store.settings(self.db.conn, site)
        if row is None:
            raise CloudError(404, Refusal.NO_CODES,
                             f"{site} issues no codes: set its code settings")
        return {k: row[k] for k in DEFAULTS} | {
            "site": site, "first_use_activates": bool(row["first_use_activates"]),
            "key": {"scheme": "hmac" if row["code_salt"] is None else "scrypt",
                    "generation": int(row["code_generation"])},
            "auto_issue": bool(row["auto_issue"]),
            "eligible": [k for k in row["eligible"].split(",") if k],
            "free": [k for k in row["free"].split(",") if k]}

    # Issuing ----------------------------------------------------------------------------------
    def with_codes(self, site: str, wanted: Callable[[Tx, Row], int],
                   fn: Callable[[Tx, Row, keys.Hashed, dict[str, Any]], list[Change]],
                   out: dict[str, Any]) -> dict[str, Any]:
        """*fn* (with the site's settings, the codes it issues and its answer to fill) as one
        rules change of *site*: the codes (*wanted*: how many, read first) are drawn and hashed
        before its transaction (``keys.hashed``), and again if the key changed meanwhile."""
        for attempt in range(keys.ATTEMPTS):
            with self.db.read() as c:
                cfg = store.settings(c, site)
                n = wanted(c, cfg) if cfg is not None else 0
            pool = keys.hashed(self.db, cfg, n, last=attempt == keys.ATTEMPTS - 1)
            answer = dict(out)

            def write(c: Tx, pool: keys.Hashed = pool, answer: dict[str, Any] = answer
                      ) -> list[Change]:
                cfg = self.cfg(c, site)
                pool.check(cfg)
                return fn(c, cfg, pool, answer)

            try:
                return self.committed(site, write, answer)
            except keys.Stale:
                continue
        raise keys.key_changed(site)

    def cfg(self, c: Tx, site: str) -> Row:
        """A site's code settings; ``no_codes`` when it has none."""
        cfg = store.settings(c, site)
        if cfg is None:
            raise CloudError(404, Refusal.NO_CODES,
                             f"{site} issues no codes: set its code settings")
        return cfg

    def flat_of(self, c: Tx, resident: str, site: str) -> str:
        """The resident's flat at the site (``not_eligible`` without one)."""
        flats = [f["flat"] for f in residents.flats(c, resident) if f["site"] == site]
        who = residents.get(c, resident)
        if who is None or who["removed_at"]:
            raise CloudError(404, Refusal.UNKNOWN_RESIDENT, f"resident {resident} does not exist")
        if not flats:
            raise CloudError(409, Refusal.NOT_ELIGIBLE, f"{resident} has no flat at {site}: codes "
                             "go to the society's residents")
        return str(flats[0])

    def issue(self, site: str, resident: str, by: str) -> dict[str, Any]:
        """Issue an eligible person a code at a site (at most ``per_person`` live ones), under
        the regime their kinds give; a first subscription code starts the courtesy month."""
        def fn(c: Tx, cfg: Row, pool: keys.Hashed, out: dict[str, Any]) -> list[Change]:
            now = self.clock.now()
            who = residents.get(c, resident)
            if who is None or who["removed_at"]:
                raise CloudError(404, Refusal.UNKNOWN_RESIDENT,
                                 f"resident {resident} does not exist")
            kinds = eligibility.kinds_of(c, site, resident, now.date())
            regime = eligibility.regime(cfg, kinds)
            if regime is None:
                why = "a company" if who["company"] else \
                    f"{', '.join(sorted(kinds)) or 'not a resident or committee member'}"
                raise CloudError(409, Refusal.NOT_ELIGIBLE, f"{resident} is {why} at {site}; codes "
                                 f"go to {cfg['eligible'].replace(',', ', ')}")
            if len(store.live_of(c, resident, site, "person")) >= int(cfg["per_person"]):
                raise CloudError(409, Refusal.TOO_MANY_CODES,
                                 f"{resident} holds {cfg['per_person']} "
                                 "live codes at this site already")
            flats = [f["flat"] for f in residents.flats(c, resident) if f["site"] == site]
            seat = store.member(c, site, resident)
            flat = flats[0] if flats else (seat["flat"] if seat is not None else None)
            row = self._person_code(c, cfg, pool, resident, who["name"], flat, regime, now, by)
            return self.issued(c, row["id"], out)

        return self.with_codes(site, lambda c, cfg: 1, fn, {})

    def _person_code(self, c: Tx, cfg: Row, pool: keys.Hashed, resident: str, name: str,
                     flat: str | None, regime: str, now: datetime, by: str) -> dict[str, Any]:
        """A new code of a person, written (a first subscription code starts the courtesy
        month); its row."""
        site = cfg["site"]
        if regime == "subscription" and store.payment(c, site, resident) is None:
            courtesy = (now + timedelta(days=COURTESY_DAYS)).isoformat()
            store.set_payment(c, site, resident, courtesy, courtesy, now.isoformat())
        code, digest = keys.take(c, cfg, pool, now)
        row = dict(zip(store.CODE, (
            f"C-{secrets.token_hex(6).upper()}", site, "person", resident, code, digest,
            "issued", now.isoformat(),
            (now + timedelta(days=int(cfg["activation_days"]))).isoformat(), None, None, None,
            0, None, flat, None, name, None, None, by, regime, int(cfg["code_generation"])),
            strict=True))
        store.insert(c, tuple(row.values()))
        return row

    def _lacking(self, c: Tx, site: str, cfg: Row, want: int, today: date
                 ) -> list[tuple[str, str, str | None, str, int]]:
        """The eligible people of a site with fewer than *want* live codes: (resident, name,
        flat, regime, how many they lack)."""
        people: dict[str, tuple[str, str | None]] = {}
        for r in residents.of_site(c, site):
            people.setdefault(r["id"], (r["name"], r["flat"]))
        for m in store.members(c, site):
            people.setdefault(m["resident"], (m["name"], m["flat"]))
        live = store.live_counts(c, site)
        kinds = eligibility.kinds_by(c, sorted(people), today)
        out = []
        for rid, (name, flat) in sorted(people.items()):
            regime = eligibility.regime(cfg, kinds.get((site, rid), set()))
            if regime is not None and want > live.get(rid, 0):
                out.append((rid, name, flat, regime, want - live.get(rid, 0)))
        return out

    def issue_all(self, site: str, count: int | None, by: str) -> dict[str, Any]:
        """Issue every eligible person of the site codes up to *count* live ones (default and
        at most ``per_person``), as the seed's daily robot does for new eligible people: one
        rules change, none when nobody lacks codes. Returns how many people and codes."""
        out: dict[str, Any] = {"site": site, "people": 0, "issued": 0}
        with self.db.read() as c:
            cfg = self.cfg(c, site)
            if not self._lacking(c, site, cfg, self._upto(cfg, count), self.clock.now().date()):
                return out | {"rules_version": None}

        def wanted(c: Tx, cfg: Row) -> int:
            return sum(p[-1] for p in self._lacking(c, site, cfg, self._upto(cfg, count),
                                                    self.clock.now().date()))

        def fn(c: Tx, cfg: Row, pool: keys.Hashed, out: dict[str, Any]) -> list[Change]:
            now = self.clock.now()
            changes: list[Change] = []
            for rid, name, flat, regime, missing in self._lacking(
                    c, site, cfg, self._upto(cfg, count), now.date()):
                out["people"] += 1
                changes += [CodeUpsert(code=code_rule(
                    self._person_code(c, cfg, pool, rid, name, flat, regime, now, by)))
                    for _ in range(missing)]
            out["issued"] = len(changes)
            return changes

        return self.with_codes(site, wanted, fn, out)

    @staticmethod
    def _upto(cfg: Row, count: int | None) -> int:
        """How many live codes ``issue_all`` gives each person: *count*, at most
        ``per_person``."""
        return min(int(count or cfg["per_person"]), int(cfg["per_person"]))

    def issue_pass(self, resident: str, req: passes.PassRequest) -> dict[str, Any]:
        """A resident issues a visitor a pass (``cloud.codes.passes``)."""
        return passes.issue(self, self.db, self.clock, resident, req)

    def rotate(self, site: str, reissue: bool, by: str) -> dict[str, Any]:
        """Draw the site's next code key and re-issue or re-hash its codes
        (``cloud.codes.keys.rotate``)."""
        return keys.rotate(self, self.db, self.clock, site, reissue, by)

    # Life ---------------------------------------------------------------------------------------
    def _set(self, code_id: str, resident: str | None, allowed: tuple[str, ...],
             **fields: Any) -> dict[str, Any]:
        with self.db.read() as c:
            row = store.get(c, code_id)
        if row is None or (resident is not None and row["holder"] != resident):
            raise CloudError(404, Refusal.UNKNOWN_CODE, f"no code {code_id} of yours")
        out: dict[str, Any] = {}

        def fn(c: Tx) -> list[Change]:
            now_row = store.get(c, code_id)
            assert now_row is not None
            if now_row["status"] not in allowed:
                raise CloudError(409, Refusal.CODE_SETTLED,
                                 f"code {code_id} is {now_row['status']}")
            store.update(c, code_id, **fields)
            new = store.get(c, code_id)
            assert new is not None
            out.update(view(new, reveal=resident is not None))
            dropped = dropped_schedule(c, new["site"], code_id) \
                if new["status"] not in LIVE else []
            return [CodeUpsert(code=code_rule(new)), *dropped]

        delta = self.ledger.change(row["site"], fn)
        return out | {"rules_version": delta.to_version}

    def activate(self, resident: str, code_id: str) -> dict[str, Any]:
        """The holder activates an issued code: valid for the site's duration from now."""
        with self.db.read() as c:
            row = store.get(c, code_id)
            cfg = store.settings(c, row["site"]) if row is not None else None
        now = self.clock.now()
        if row is not None and row["activate_by"] and now > datetime.fromisoformat(
                row["activate_by"]):
            raise CloudError(409, Refusal.CODE_SETTLED, "this code was not activated in time")
        days = duration(cfg, row["regime"]) if cfg is not None and row is not None else 60
        return self._set(code_id, resident, ("issued",), status="active",
                         activated_at=now.isoformat(), valid_from=now.isoformat(),
                         valid_until=(now + timedelta(days=days)).isoformat())

    def cancel(self, code_id: str, resident: str | None = None) -> dict[str, Any]:
        """Cancel a code or pass (its holder, or staff): the gates refuse it at once."""
        return self._set(code_id, resident, LIVE, status="cancelled")

    def cancel_all_of(self, resident: str) -> int:
        """A resident left: every live code of theirs and every live pass they gave is
        cancelled, one rules change per site (the gates refuse them at once). How many."""
        with self.db.read() as c:
            live = [r for r in store.of_holder(c, resident) if r["status"] in LIVE]
        done = 0
        for site in sorted({r["site"] for r in live}):
            ids = [r["id"] for r in live if r["site"] == site]

            def fn(c: Tx, ids: list[str] = ids, site: str = site) -> list[Change]:
                return rewrite(c, site, [(row, {"status": "cancelled"})
                                         for row in store.get_many(c, ids)
                                         if row["status"] in LIVE])

            done += len(self.ledger.change(site, fn).changes)
        return done

    def mine(self, resident: str) -> list[dict[str, Any]]:
        """The resident's codes and passes, in clear."""
        return [view(r, reveal=True) for r in store.of_holder(self.db.conn, resident)]

    def of_site(self, site: str) -> list[dict[str, Any]]:
        """A site's codes, masked (staff)."""
        return [view(r, reveal=False) for r in store.of_site(self.db.conn, site)]

    def qr_svg(self, resident: str, code_id: str) -> str:
        """The pass's code as a QR image (SVG) the resident shares with the visitor."""
        import io

        import segno

        row = store.get(self.db.conn, code_id)
        if row is None or row["holder"] != resident:
            raise CloudError(404, Refusal.UNKNOWN_CODE, f"no code {code_id} of yours")
        buf = io.BytesIO()
        segno.make(row["code"], error="m").save(buf, kind="svg", scale=8, border=2)
        return buf.getvalue().decode()

    # What the gates report ----------------------------------------------------------------------
    @staticmethod
    def lane(event: Event) -> str | None:
        """The code a gate opened for (its reactions, in order), or None: the event calls for
        no reaction of the codes."""
        body = event.body
        if not isinstance(body, DecisionData) or body.credential is None or \
                body.credential.kind != CredentialKind.CODE or body.outcome != Outcome.OPEN \
                or not body.credential.value:
            return None
        return f"code:{event.site}:{body.credential.value}"

    def on_event(self, event: Event) -> None:
        """A gate opened for a code: a single-use pass is spent, an issued code activated by
        its first use (a reaction to the stored event, ``cloud.ingest.reactions``: done again,
        it refuses with ``code_settled`` and changes nothing)."""
        body = event.body
        if self.lane(event) is None or not isinstance(body, DecisionData) or \
                body.credential is None:
            return
        with self.db.read() as c:
            row = store.by_hash(c, event.site, str(body.credential.value))
            cfg = store.settings(c, event.site)
        if row is None:
            return
        at = event.at.isoformat()
        if row["single_use"] and row["status"] == "active":
            self._set(row["id"], None, ("active",), status="spent", used_at=at)
        elif row["status"] == "issued" and cfg is not None:
            until = event.at + timedelta(days=duration(cfg, row["regime"]))
            self._set(row["id"], None, ("issued",), status="active", activated_at=at,
                      valid_from=at, valid_until=until.isoformat())
