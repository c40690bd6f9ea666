"""Access codes and visitor passes (``docs/codes.md``): a site's settings, codes issued to
residents, passes residents issue to visitors, and what the gates report back.

Every code is drawn at random in the site's alphabet (``shared.codes``) and is **unique
forever**: its digest goes into a registry that is never emptied, and a draw that was ever
issued is drawn again. The cloud keeps the code (the holder's app shows it); the gates get only
its keyed hash (HMAC under the site's key, which travels in the rules), with its status and
times, and decide offline. A person holds at most ``per_person`` live codes at a site (default
2, at most 4). A code is ``issued``; it must be activated (in the app, or by its first use at a
gate where the site says so) before ``activate_by`` (issue + ``activation_days``, default 5
years), and is then valid for ``duration_days`` (default 60). A visitor pass is active at once
for its window; a single-use pass is spent by its first entry (the gate spends it at once, the
cloud when the gate's event arrives).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from cloud.errors import CloudError
from cloud.society.rules import RulesService
from cloud.storage import Row, Tx, residents
from cloud.storage import codes as store
from shared.codes import code_hash, draw, registry_digest
from shared.contract import Change, CodeConfig, CodeRule, Event
from shared.vocab import EventType

DEFAULTS: dict[str, Any] = {"alphabet": "digits", "length": 8, "per_person": 2,
                            "activation_days": 1825, "duration_days": 60,
                            "first_use_activates": False}
VISITOR_KINDS = ("guest", "cab", "delivery", "helper")


def _dt(v: str | None) -> datetime | None:
    return datetime.fromisoformat(v) if v else None


def code_rule(r: Row) -> CodeRule:
    """A code as its site's gates hold it."""
    return CodeRule(hash=r["hash"], site=r["site"], kind=r["kind"], status=r["status"],
                    valid_from=_dt(r["valid_from"]), valid_until=_dt(r["valid_until"]),
                    activate_by=_dt(r["activate_by"]), single_use=bool(r["single_use"]),
                    schedule=r["schedule"], flat=r["flat"], vrn=r["vrn"], label=r["label"])


def code_config(r: Row) -> CodeConfig:
    """How a site's gates read its codes."""
    return CodeConfig(key=r["code_key"], alphabet=r["alphabet"],
                      first_use_activates=bool(r["first_use_activates"]))


def view(r: Row, reveal: bool) -> dict[str, Any]:
    """A code as an answer: in clear for its holder, masked for staff."""
    code = r["code"] if reveal else "•" * (len(r["code"]) - 2) + r["code"][-2:]
    out = {k: r[k] for k in ("id", "site", "kind", "holder", "status", "issued_at",
                             "activate_by", "activated_at", "valid_from", "valid_until",
                             "flat", "vrn", "label", "visitor_kind", "used_at")}
    return out | {"code": code, "single_use": bool(r["single_use"])}


def _issued(c: Tx, cid: str, out: dict[str, Any]) -> list[Change]:
    """A code just written: its answer (in clear, for its holder) into *out*, its rule."""
    row = store.get(c, cid)
    assert row is not None
    out.update(view(row, reveal=True))
    return [Change(op="code.upsert", code=code_rule(row))]


class Codes:
    """The access codes of every site."""

    def __init__(self, rules: RulesService) -> None:
        self.rules = rules
        self.db = rules.db
        self.clock = rules.clock

    def _committed(self, site: str, fn: Any, out: dict[str, Any]) -> dict[str, Any]:
        """*fn* as one rules change of *site*; *out* (filled by *fn*) with its version."""
        delta = self.rules._change(site, fn)
        return out | {"rules_version": delta.to_version}

    # Settings ---------------------------------------------------------------------------------
    def configure(self, site: str, **given: Any) -> dict[str, Any]:
        """Set a site's code settings (what is not given keeps its value, or the default);
        the site's key is drawn once, the first time."""
        def fn(c: Tx) -> list[Change]:
            old = store.settings(c, site)
            cur = {k: (old[k] if old is not None else v) for k, v in DEFAULTS.items()}
            cur |= {k: v for k, v in given.items() if v is not None}
            if cur["alphabet"] not in ("digits", "letters"):
                raise CloudError(422, "bad_code_settings", "alphabet is digits or letters")
            if not 8 <= int(cur["length"]) <= 10 or not 1 <= int(cur["per_person"]) <= 4 \
                    or int(cur["duration_days"]) < 1 or int(cur["activation_days"]) < 1:
                raise CloudError(422, "bad_code_settings", "a code is 8–10 characters, a "
                                 "person holds 1–4, and lifetimes are whole days")
            key = old["code_key"] if old is not None else secrets.token_hex(32)
            store.set_settings(c, (site, cur["alphabet"], int(cur["length"]),
                                   int(cur["per_person"]), int(cur["activation_days"]),
                                   int(cur["duration_days"]), int(bool(cur["first_use_activates"])),
                                   key, self.clock.now().isoformat()))
            row = store.settings(c, site)
            assert row is not None
            return [Change(op="codes.config", code_config=code_config(row))]

        delta = self.rules._change(site, fn)
        return self.settings(site) | {"rules_version": delta.to_version}

    def settings(self, site: str) -> dict[str, Any]:
        """A site's code settings (never its key)."""
        row = store.settings(self.db.conn, site)
        if row is None:
            raise CloudError(404, "no_codes", f"{site} issues no codes: set its code settings")
        return {k: row[k] for k in DEFAULTS} | {
            "site": site, "first_use_activates": bool(row["first_use_activates"])}

    # Issuing ----------------------------------------------------------------------------------
    def _new(self, c: Tx, cfg: Row, now: datetime) -> tuple[str, str]:
        """A code never issued before (anywhere), registered, and its hash at the site."""
        for _ in range(50):
            code = draw(cfg["alphabet"], int(cfg["length"]))
            if store.register(c, registry_digest(code), now.isoformat()):
                return code, code_hash(bytes.fromhex(cfg["code_key"]), code)
        raise CloudError(503, "no_free_code", "no unused code was drawn: lengthen the codes")

    def _cfg(self, c: Tx, site: str) -> Row:
        cfg = store.settings(c, site)
        if cfg is None:
            raise CloudError(404, "no_codes", f"{site} issues no codes: set its code settings")
        return cfg

    def _flat(self, c: Tx, resident: str, site: str) -> str:
        flats = [f["flat"] for f in residents.flats(c, resident) if f["site"] == site]
        who = residents.get(c, resident)
        if who is None or who["removed_at"]:
            raise CloudError(404, "unknown_resident", f"resident {resident} does not exist")
        if not flats:
            raise CloudError(409, "not_eligible", f"{resident} has no flat at {site}: codes "
                             "go to the society's residents")
        return str(flats[0])

    def issue(self, site: str, resident: str, by: str) -> dict[str, Any]:
        """Issue a resident a code at a site (at most ``per_person`` live ones)."""
        out: dict[str, Any] = {}

        def fn(c: Tx) -> list[Change]:
            cfg = self._cfg(c, site)
            flat = self._flat(c, resident, site)
            if len(store.live_of(c, resident, site, "person")) >= int(cfg["per_person"]):
                raise CloudError(409, "too_many_codes", f"{resident} holds {cfg['per_person']} "
                                 "live codes at this site already")
            now = self.clock.now()
            code, digest = self._new(c, cfg, now)
            who = residents.get(c, resident)
            cid = f"C-{secrets.token_hex(6).upper()}"
            store.insert(c, (cid, site, "person", resident, code, digest, "issued",
                             now.isoformat(),
                             (now + timedelta(days=int(cfg["activation_days"]))).isoformat(),
                             None, None, None, 0, None, flat, None,
                             who["name"] if who else "", None, None, by))
            return _issued(c, cid, out)

        return self._committed(site, fn, out)

    def issue_pass(self, resident: str, site: str | None, visitor_kind: str, name: str,
                   phone: str | None, vrn: str | None, valid_from: datetime,
                   valid_until: datetime, single_use: bool) -> dict[str, Any]:
        """A resident issues a visitor a pass for a time window: active at once."""
        if visitor_kind not in VISITOR_KINDS:
            raise CloudError(422, "bad_pass", f"a visitor is a {', '.join(VISITOR_KINDS)}")
        if valid_until <= valid_from or valid_until <= self.clock.now():
            raise CloudError(422, "bad_pass", "a pass ends after it starts, in the future")
        with self.db.read() as c:
            sites = sorted({f["site"] for f in residents.flats(c, resident)})
        if site is None:
            if len(sites) != 1:
                raise CloudError(422, "site_required", "say which society the pass is for")
            site = sites[0]
        out: dict[str, Any] = {}

        def fn(c: Tx) -> list[Change]:
            cfg = self._cfg(c, site)
            flat = self._flat(c, resident, site)
            now = self.clock.now()
            code, digest = self._new(c, cfg, now)
            cid = f"P-{secrets.token_hex(6).upper()}"
            store.insert(c, (cid, site, "visitor", resident, code, digest, "active",
                             now.isoformat(), None, now.isoformat(), valid_from.isoformat(),
                             valid_until.isoformat(), int(single_use), None, flat,
                             vrn.upper() if vrn else None, f"{visitor_kind}: {name.strip()}",
                             visitor_kind, phone, f"resident:{resident}"))
            return _issued(c, cid, out)

        return self._committed(site, fn, out)

    # Life ---------------------------------------------------------------------------------------
    def _set(self, code_id: str, resident: str | None, allowed: tuple[str, ...],
             **fields: Any) -> dict[str, Any]:
        with self.db.read() as c:
            row = store.get(c, code_id)
        if row is None or (resident is not None and row["holder"] != resident):
            raise CloudError(404, "unknown_code", f"no code {code_id} of yours")
        out: dict[str, Any] = {}

        def fn(c: Tx) -> list[Change]:
            now_row = store.get(c, code_id)
            assert now_row is not None
            if now_row["status"] not in allowed:
                raise CloudError(409, "code_settled", f"code {code_id} is {now_row['status']}")
            store.update(c, code_id, **fields)
            new = store.get(c, code_id)
            assert new is not None
            out.update(view(new, reveal=resident is not None))
            return [Change(op="code.upsert", code=code_rule(new))]

        delta = self.rules._change(row["site"], fn)
        return out | {"rules_version": delta.to_version}

    def activate(self, resident: str, code_id: str) -> dict[str, Any]:
        """The holder activates an issued code: valid for the site's duration from now."""
        with self.db.read() as c:
            row = store.get(c, code_id)
            cfg = store.settings(c, row["site"]) if row is not None else None
        now = self.clock.now()
        if row is not None and row["activate_by"] and now > datetime.fromisoformat(
                row["activate_by"]):
            raise CloudError(409, "code_settled", "this code was not activated in time")
        days = int(cfg["duration_days"]) if cfg is not None else 60
        return self._set(code_id, resident, ("issued",), status="active",
                         activated_at=now.isoformat(), valid_from=now.isoformat(),
                         valid_until=(now + timedelta(days=days)).isoformat())

    def cancel(self, code_id: str, resident: str | None = None) -> dict[str, Any]:
        """Cancel a code or pass (its holder, or staff): the gates refuse it at once."""
        return self._set(code_id, resident, ("issued", "active"), status="cancelled")

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
            raise CloudError(404, "unknown_code", f"no code {code_id} of yours")
        buf = io.BytesIO()
        segno.make(row["code"], error="m").save(buf, kind="svg", scale=8, border=2)
        return buf.getvalue().decode()

    # What the gates report ----------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        """A gate opened for a code: a single-use pass is spent, an issued code activated by
        its first use."""
        cred = event.data.get("credential") or {}
        if event.type is not EventType.DECISION or cred.get("kind") != "code" or \
                event.data.get("outcome") != "open" or not cred.get("value"):
            return
        with self.db.read() as c:
            row = store.by_hash(c, event.site, str(cred["value"]))
            cfg = store.settings(c, event.site)
        if row is None:
            return
        at = event.at.isoformat()
        if row["single_use"] and row["status"] == "active":
            self._set(row["id"], None, ("active",), status="spent", used_at=at)
        elif row["status"] == "issued" and cfg is not None:
            until = event.at + timedelta(days=int(cfg["duration_days"]))
            self._set(row["id"], None, ("issued",), status="active", activated_at=at,
                      valid_from=at, valid_until=until.isoformat())
