"""The cached access codes of the box's sites (keyed hashes only, ``shared.contract.CodeRule``),
each site's code settings, and the single-use passes this box has spent. ``RulesCache`` writes
them with the rest of a site's rules; the decision path reads them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from edge.core.types import CodeRecord, CodeSettings
from shared.contract import CodeConfig, CodeRule

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


def apply(c: Any, site: str, op: str, rule: CodeRule | None, config: CodeConfig | None,
          key: str | None) -> None:
    """One change of a delta: ``code.upsert``, ``code.delete`` or ``codes.config``."""
    if op == "code.upsert" and rule is not None:
        c.execute(_INSERT, row(rule))
    elif op == "code.delete" and key:
        c.execute("DELETE FROM codes WHERE hash = ? AND site = ?", (key, site))
    elif op == "codes.config":
        set_config(c, site, config)
    else:
        raise ValueError(f"malformed change {op}")


def set_config(c: Any, site: str, config: CodeConfig | None) -> None:
    """A site's code settings (None: the site has none)."""
    if config is None:
        c.execute("DELETE FROM code_config WHERE site = ?", (site,))
        return
    c.execute("INSERT OR REPLACE INTO code_config(site, key, alphabet, first_use) VALUES "
              "(?, ?, ?, ?)", (site, config.key, config.alphabet,
                               int(config.first_use_activates)))


def clear_site(c: Any, site: str) -> None:
    """Forget a site's codes and settings (a snapshot replaces them); its spends stay."""
    c.execute("DELETE FROM codes WHERE site = ?", (site,))
    c.execute("DELETE FROM code_config WHERE site = ?", (site,))


def settings(c: Any, site: str) -> CodeSettings | None:
    """How the site's codes are read."""
    r = c.execute("SELECT key, alphabet, first_use FROM code_config WHERE site = ?",
                  (site,)).fetchone()
    return None if r is None else CodeSettings(bytes.fromhex(r[0]), r[1], bool(r[2]))


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
