"""The cached access codes of the box's sites (hashes only, ``shared.contract.CodeRule``), each
site's code settings, and the single-use passes this box has spent. ``RulesCache`` writes them
with the rest of a site's rules; the decision path reads them.

A site's pepper (``shared.codes.CodeKey``) is never written here: ``Peppers`` holds it in the
daemon's memory (and on the runtime tmpfs, if given), so the file of a stolen box holds hashes
nobody can test. After a power cut the box takes it again with a snapshot from the cloud; until
then its codes are ``code_key_missing``.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.core.types import CodeRecord, CodeSettings
from shared.codes import CodeKey
from shared.contract import CodeConfig, CodeRule

log = logging.getLogger(__name__)

_COLS = ("hash, site, kind, status, valid_from, valid_until, activate_by, single_use, "
         "schedule, flat, vrn, label")
_INSERT = f"INSERT OR REPLACE INTO codes({_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"


def _t(v: datetime | None) -> str | None:
    return v.isoformat() if v else None


def _dt(v: str | None) -> datetime | None:
    return datetime.fromisoformat(v) if v else None


def row(rule: CodeRule) -> tuple[Any, ...]:
    """A code rule as a row of ``codes``."""
    return (rule.hash, rule.site, rule.kind, rule.status, _t(rule.valid_from),
            _t(rule.valid_until), _t(rule.activate_by), int(rule.single_use), rule.schedule,
            rule.flat, rule.vrn, rule.label)


def insert(c: Any, rows: list[tuple[Any, ...]]) -> None:
    """Insert (or replace) code rows."""
    c.executemany(_INSERT, rows)
    rows.clear()


class Peppers:
    """The sites' code peppers by (site, generation), in this process's memory, and, given a
    *keep* directory on a tmpfs (``/run/gatepost``), there too: a daemon restarted while the
    cloud is out of reach (a crash, an upgrade) still decides codes, and a power cut, or a box
    carried away, loses them with the tmpfs."""

    def __init__(self, keep: Path | None = None) -> None:
        self._held: dict[tuple[str, int], bytes] = {}
        self._keep = keep
        if keep is None or not keep.is_dir():
            return
        for f in keep.glob("*.pepper"):
            site, _, generation = f.stem.rpartition(".")
            try:
                self._held[(site, int(generation))] = bytes.fromhex(f.read_text().strip())
            except (ValueError, OSError) as exc:
                log.warning("code pepper %s not read: %s", f.name, exc)

    def put(self, site: str, generation: int, pepper: bytes) -> None:
        """The cloud gave a site's pepper of a generation."""
        if self._held.get((site, generation)) == pepper:
            return
        self._held[(site, generation)] = pepper
        if self._keep is None:
            return
        try:
            self._keep.mkdir(mode=0o700, parents=True, exist_ok=True)
            for old in self._keep.glob(f"{site}.*.pepper"):  # another generation's: gone
                old.unlink(missing_ok=True)
            tmp = self._keep / f".{site}.{generation}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(pepper.hex())
            tmp.replace(self._keep / f"{site}.{generation}.pepper")
        except OSError as exc:  # memory still holds it: only a restart offline would miss it
            log.warning("code pepper of %s not kept in %s: %s", site, self._keep, exc)

    def get(self, site: str, generation: int) -> bytes | None:
        """A site's pepper of a generation, if the cloud gave it since the start."""
        return self._held.get((site, generation))


def upsert(c: Any, rule: CodeRule) -> None:
    """A delta's ``code.upsert``: the code added or replaced."""
    c.execute(_INSERT, row(rule))


def delete(c: Any, site: str, digest: str) -> None:
    """A delta's ``code.delete``: the site's code with this keyed hash gone."""
    c.execute("DELETE FROM codes WHERE hash = ? AND site = ?", (digest, site))


def set_config(c: Any, site: str, config: CodeConfig | None, peppers: Peppers) -> None:
    """A site's code settings (None: the site has none); its pepper into *peppers*. A new
    generation drops the site's codes: hashes under the old key, which nobody computes now."""
    if config is None:
        c.execute("DELETE FROM code_config WHERE site = ?", (site,))
        return
    old = c.execute("SELECT generation FROM code_config WHERE site = ?", (site,)).fetchone()
    if old is not None and old[0] != config.generation:
        c.execute("DELETE FROM codes WHERE site = ?", (site,))
    if config.pepper is not None and config.generation is not None:
        peppers.put(site, config.generation, bytes.fromhex(config.pepper))
    c.execute("INSERT OR REPLACE INTO code_config(site, key, alphabet, first_use, salt, cost, "
              "generation) VALUES (?, ?, ?, ?, ?, ?, ?)",
              (site, config.key, config.alphabet, int(config.first_use_activates),
               config.salt, config.cost, config.generation))


def clear_site(c: Any, site: str) -> None:
    """Forget a site's codes and settings (a snapshot replaces them); its spends stay."""
    c.execute("DELETE FROM codes WHERE site = ?", (site,))
    c.execute("DELETE FROM code_config WHERE site = ?", (site,))


def settings(c: Any, site: str, peppers: Peppers) -> CodeSettings | None:
    """How the site's codes are read (its key None while its pepper is not held)."""
    r = c.execute("SELECT key, alphabet, first_use, salt, cost, generation FROM code_config "
                  "WHERE site = ?", (site,)).fetchone()
    if r is None:
        return None
    if r[3] is None:  # a site not rotated since codes were hashed by HMAC
        return CodeSettings(CodeKey(key=bytes.fromhex(r[0])), r[1], bool(r[2]))
    pepper = peppers.get(site, int(r[5]))
    key = None if pepper is None else CodeKey(salt=bytes.fromhex(r[3]), pepper=pepper,
                                              cost=int(r[4]))
    return CodeSettings(key, r[1], bool(r[2]))


def lacks_pepper(c: Any, site: str, peppers: Peppers) -> bool:
    """Whether the site's codes wait for its pepper (a snapshot brings it)."""
    got = settings(c, site, peppers)
    return got is not None and got.key is None


def code(c: Any, site: str, digest: str) -> CodeRecord | None:
    """The site's code with this keyed hash, and whether this box spent it."""
    r = c.execute(f"SELECT {_COLS}, (SELECT 1 FROM codes_spent s WHERE s.hash = codes.hash) "
                  "FROM codes WHERE hash = ? AND site = ?", (digest, site)).fetchone()
    if r is None:
        return None
    return CodeRecord(r[0], r[1], r[2], r[3], _dt(r[4]), _dt(r[5]), _dt(r[6]), bool(r[7]),
                      r[8], r[9], r[10], r[11], bool(r[12]))


def spend(c: Any, digest: str, at: datetime) -> None:
    """This box let a single-use pass in: it opens no more, whatever a later snapshot says."""
    c.execute("INSERT OR IGNORE INTO codes_spent(hash, at) VALUES (?, ?)",
              (digest, at.isoformat()))


def count(c: Any) -> int:
    """Codes cached."""
    return int(c.execute("SELECT count(*) FROM codes").fetchone()[0])


def expected(c: Any, sites: list[str], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The visitor passes of *sites* live at some time in [start, end) (a day on the site's
    clock): label, flat, vrn, window, schedule, single use, and whether this box spent it."""
    marks = ", ".join("?" for _ in sites)
    rows = c.execute(
        f"SELECT hash, site, label, flat, vrn, valid_from, valid_until, schedule, single_use, "
        f"(SELECT 1 FROM codes_spent s WHERE s.hash = codes.hash) FROM codes WHERE kind = "
        f"'visitor' AND status = 'active' AND site IN ({marks}) ORDER BY valid_from",
        tuple(sites)).fetchall()
    out = []
    for r in rows:
        since, until = _dt(r[5]), _dt(r[6])
        if (since is not None and since >= end) or (until is not None and until <= start):
            continue
        out.append({"hash": r[0], "site": r[1], "label": r[2], "flat": r[3], "vrn": r[4],
                    "valid_from": since, "valid_until": until, "schedule": r[7],
                    "single_use": bool(r[8]), "spent": bool(r[9])})
    return out
