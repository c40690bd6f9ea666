"""The keys a site's codes are hashed by, and rotating them (``docs/codes.md``, "A stolen box").

A site's key is a generation: a salt and a pepper drawn together, with scrypt's cost. The gates
get the salt and cost in the rules; the pepper only in what goes to the site's own boxes (their
snapshot and the rules deltas on their topic), never in a staff member's rules read. Sites of
before hash by a legacy HMAC key (generation 0) until rotated.

Rotating draws the next generation in one rules change. ``reissue`` (what to do after a box was
stolen): every live person code is cancelled and its holder gets a new code in the same state
(issued or active, the same window), and every live visitor pass is cancelled (its resident
issues a new one: a pass is short, and its visitor must be told the new code anyway). Without
``reissue`` (a legacy site's upgrade): the same codes, hashed again under the new key, except
single-use passes, which are cancelled as with ``reissue``: a box that spent one offline holds
the spend (and tells its peers of it) under the old hash, which the new one cannot be matched
with, so hashed again it would open once more. Either way the gates drop the hashes of the
older generation, which nobody can compute any more.

Hashing is slow on purpose (scrypt, ~10 ms a code), so it is never done inside a write
transaction, where every other writer of the cloud (SQLite) or of the site's rules
(PostgreSQL) would wait for all of it: codes are drawn and hashed first (``hashed``), and the
short write then takes them (``take``) while the site's key is still the one they were hashed
under, or goes ``Stale`` and is done again.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from cloud.codes.pass_schedules import dropped_schedule
from cloud.errors import CloudError
from cloud.refusals import Refusal
from cloud.storage import Row, Tx
from cloud.storage import codes as store
from shared.codes import SCRYPT_N, CodeKey, draw, registry_digest, secret
from shared.contract import Change, CodeConfig, CodeRule, CodesConfig, CodeUpsert

if TYPE_CHECKING:
    from cloud.codes import Codes
    from cloud.storage.database import Database
    from shared.clock import Clock

Settings = Row | Mapping[str, Any]  # a site's code settings, as read or about to be written
ATTEMPTS = 3  # a write gone stale is prepared again this many times in all
INLINE = 32  # codes a write may hash itself (issued or wanted meanwhile) before going stale


def code_key(cfg: Settings) -> CodeKey:
    """What the cloud hashes a site's codes with (its settings' row)."""
    if cfg["code_salt"] is None:
        return CodeKey(key=bytes.fromhex(cfg["code_key"]))
    return CodeKey(salt=bytes.fromhex(cfg["code_salt"]), pepper=bytes.fromhex(
        cfg["code_pepper"]), cost=int(cfg["code_cost"]))


def code_config(r: Row, pepper: bool = False) -> CodeConfig:
    """How a site's gates read its codes; with the pepper only for the site's own boxes."""
    common: dict[str, Any] = {"alphabet": r["alphabet"],
                              "first_use_activates": bool(r["first_use_activates"])}
    if r["code_salt"] is None:  # a site of before: its HMAC key tests any guess, box only
        return CodeConfig(key=r["code_key"] if pepper else None, **common)
    return CodeConfig(salt=r["code_salt"], cost=int(r["code_cost"]),
                      generation=int(r["code_generation"]),
                      pepper=r["code_pepper"] if pepper else None, **common)


FIELDS = ("code_key", "code_salt", "code_pepper", "code_cost", "code_generation")


def fresh(generation: int) -> dict[str, Any]:
    """A new key's settings fields: a salt and a pepper of *generation*, no HMAC key."""
    return {"code_key": None, "code_salt": secret(), "code_pepper": secret(),
            "code_cost": SCRYPT_N, "code_generation": generation}


class Stale(Exception):
    """What was hashed before a write no longer fits it: the write is rolled back and
    prepared again."""


def _drawn_as(cfg: Settings) -> tuple[Any, ...]:
    """What codes hashed before a write depend on: the alphabet, the length and the key."""
    return (cfg["alphabet"], int(cfg["length"]), int(cfg["code_generation"]),
            cfg["code_salt"], cfg["code_pepper"], cfg["code_key"])


@dataclass
class Hashed:
    """Codes drawn (none the registry held when drawn, none twice) and hashed under a site's
    key before the write that issues them; *spare*: how many more the write may hash itself."""

    drawn_as: tuple[Any, ...] | None
    codes: list[tuple[str, str]]
    spare: int = INLINE

    def check(self, cfg: Settings) -> None:
        """``Stale`` unless the codes were drawn and hashed as *cfg* (read in the write) says."""
        if self.drawn_as is not None and self.drawn_as != _drawn_as(cfg):
            raise Stale

    def inline(self) -> None:
        """The write hashes one more code itself; ``Stale`` when it would hash many."""
        if self.spare <= 0:
            raise Stale
        self.spare -= 1


def hashed(db: Database, cfg: Settings | None, n: int, last: bool = False) -> Hashed:
    """*n* new codes of a site (*cfg*: its settings) drawn and hashed, outside any write; on
    the *last* attempt the write that takes them may hash as many more as it needs."""
    spare = sys.maxsize if last else INLINE
    if cfg is None:
        return Hashed(None, [], spare)
    picked: dict[str, str] = {}  # registry digest -> code
    for _ in range(50):
        drawn = {registry_digest(code): code for code in (
            draw(cfg["alphabet"], int(cfg["length"])) for _ in range(n - len(picked)))}
        if not drawn:
            break
        with db.read() as c:
            taken = store.registered(c, [d for d in drawn if d not in picked])
        picked |= {d: code for d, code in drawn.items() if d not in taken}
    key = code_key(cfg)  # the slow part, with no transaction open
    return Hashed(_drawn_as(cfg), [(code, key.digest(code)) for code in picked.values()],
                  spare)


def take(c: Tx, cfg: Row, pool: Hashed, at: datetime) -> tuple[str, str]:
    """A code never issued before (anywhere), registered, and its hash at the site: one of
    *pool*, else (drawn meanwhile by another write, or more are wanted than were hashed) one
    drawn and hashed here."""
    while pool.codes:
        code, digest = pool.codes.pop()
        if store.register(c, registry_digest(code), at.isoformat()):
            return code, digest
    for _ in range(50):
        code = draw(cfg["alphabet"], int(cfg["length"]))
        if store.register(c, registry_digest(code), at.isoformat()):
            pool.inline()
            return code, code_key(cfg).digest(code)
    raise CloudError(503, Refusal.NO_FREE_CODE, "no unused code was drawn: lengthen the codes")


def key_changed(site: str) -> CloudError:
    """The refusal of a write whose codes were hashed under a key rotated meanwhile."""
    return CloudError(409, Refusal.CODE_KEY_CHANGED, f"the code key of {site} was rotated "
                      "while its codes were being hashed: try again")


def rotate(codes: Codes, db: Database, clock: Clock, site: str, reissue: bool,
           by: str) -> dict[str, Any]:
    """Draw the site's next key in one rules change (through *codes*, over its *db* and
    *clock*), and re-issue (or hash again) its live codes under it: ``{site, generation,
    reissued, rehashed, cancelled, rules_version}``. The hashes are made before the write;
    ``code_key_changed`` when another rotation came first."""
    for attempt in range(ATTEMPTS):
        with db.read() as c:
            cfg = store.settings(c, site)
            live = store.live_of_site(c, site) if cfg is not None else []
        if cfg is None:  # the write refuses it as before (no site, or no codes)
            nxt: dict[str, Any] | None = None
            pool, kept = hashed(db, None, 0), {}
        else:
            nxt = dict(cfg) | fresh(int(cfg["code_generation"]) + 1)
            key = code_key(nxt)
            kept = {r["id"]: key.digest(r["code"]) for r in live
                    if not reissue and not r["single_use"]}
            pool = hashed(db, nxt, sum(r["kind"] == "person" for r in live
                                       if reissue or r["single_use"]),
                          last=attempt == ATTEMPTS - 1)
        out: dict[str, Any] = {"site": site, "reissued": 0, "rehashed": 0, "cancelled": 0}
        try:
            return codes.committed(site, partial(
                _rotated, codes, clock, site=site, nxt=nxt, reissue=reissue, kept=kept, pool=pool,
                by=by, out=out), out)
        except Stale:
            continue
    raise key_changed(site)


def _rotated(codes: Codes, clock: Clock, c: Tx, site: str, nxt: dict[str, Any] | None,
             reissue: bool, kept: dict[str, str], pool: Hashed, by: str,
             out: dict[str, Any]) -> list[Change]:
    """A rotation's write: the next key *nxt* (drawn by ``rotate``, which hashed the codes
    *kept* under it by id and drew *pool* for those re-issued), if the site's key is still
    the one it followed."""
    from cloud.codes import code_rule  # the package imports this module

    cfg = codes.cfg(c, site)
    if nxt is None or int(cfg["code_generation"]) + 1 != nxt["code_generation"]:
        raise key_changed(site)
    fields = {k: nxt[k] for k in FIELDS}
    store.set_settings(c, tuple((dict(cfg) | fields)[k] for k in store.SETTINGS))
    new_cfg = codes.cfg(c, site)
    pool.check(new_cfg)  # the alphabet or length changed meanwhile: drawn again
    out["generation"] = fields["code_generation"]
    key, now = code_key(new_cfg), clock.now()
    changes: list[Change] = [CodesConfig(code_config=code_config(new_cfg, pepper=True))]
    rehash, cancel = [], []
    for row in store.live_of_site(c, site):
        if not reissue and not row["single_use"]:
            digest = kept.get(row["id"])
            if digest is None:  # issued since rotate read the codes
                pool.inline()
                digest = key.digest(row["code"])
            rehash.append((digest, fields["code_generation"], row["id"]))
            continue
        cancel.append(("cancelled", row["id"]))
        changes += dropped_schedule(c, site, row["id"])
        if row["kind"] == "person":
            changes.append(CodeUpsert(code=_again(c, new_cfg, row, now, by, pool)))
            out["reissued"] += 1
    for names, rows in ((("hash", "key_generation"), rehash), (("status",), cancel)):
        if rows:
            store.update_many(c, names, rows)
    out["rehashed"], out["cancelled"] = len(rehash), len(cancel)
    changes += [CodeUpsert(code=code_rule(r))
                for r in store.get_many(c, [i for _, _, i in rehash])]
    return changes


def _again(c: Tx, cfg: Row, old: Row, now: datetime, by: str, pool: Hashed) -> CodeRule:
    """A new code for the holder of *old* (cancelled by the caller), in its state."""
    from cloud.codes import code_rule

    code, digest = take(c, cfg, pool, now)
    row = dict(old) | {"id": f"C-{secrets.token_hex(6).upper()}", "code": code,
                       "hash": digest, "issued_at": now.isoformat(), "created_by": by,
                       "key_generation": int(cfg["code_generation"])}
    store.insert(c, tuple(row[k] for k in store.CODE))
    for name in ("used_at", "renewed_at"):  # not in CODE: carried over as they were
        if old[name] is not None:
            store.update(c, row["id"], **{name: old[name]})
    new = store.get(c, row["id"])
    assert new is not None
    return code_rule(new)
