"""Visitors inside the box's sites: let in by a visitor pass or a flat's approval and not out
yet. Written in the transaction that records the open (so a crash never keeps one half), and
removed by the visitor's exit with the same pass or by the guard (a manual exit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Inside:
    """A visitor inside: ``key`` is ``code:HASH`` for a pass, ``walkin:V-…`` for a walk-in."""

    key: str
    site: str
    label: str
    flat: str | None
    vrn: str | None
    gate: str
    via: str  # code, qr, keypad, guard (a pass entered at the panel) or approved
    entered_at: datetime


_COLS = "key, site, label, flat, vrn, gate, via, entered_at"


def _inside(r: Any) -> Inside:
    return Inside(r[0], r[1], r[2], r[3], r[4], r[5], r[6], datetime.fromisoformat(r[7]))


def came_in(c: Any, v: Inside) -> None:
    """Record a visitor inside (again: the latest entry stands)."""
    c.execute(f"INSERT OR REPLACE INTO visitors_inside({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
              (v.key, v.site, v.label, v.flat, v.vrn, v.gate, v.via, v.entered_at.isoformat()))


def went_out(c: Any, key: str) -> bool:
    """A visitor left; False if they were not recorded inside."""
    return c.execute("DELETE FROM visitors_inside WHERE key = ?", (key,)).rowcount > 0


def inside(c: Any, sites: list[str]) -> list[Inside]:
    """The visitors inside *sites*, newest first."""
    marks = ", ".join("?" for _ in sites)
    return [_inside(r) for r in c.execute(
        f"SELECT {_COLS} FROM visitors_inside WHERE site IN ({marks}) ORDER BY entered_at DESC",
        tuple(sites))]


def get(c: Any, key: str) -> Inside | None:
    """One visitor inside."""
    r = c.execute(f"SELECT {_COLS} FROM visitors_inside WHERE key = ?", (key,)).fetchone()
    return None if r is None else _inside(r)


def site_zone(c: Any, site: str) -> str | None:
    """The site's IANA time zone, as its cached schedules carry it (None: no schedule yet)."""
    r = c.execute("SELECT json_extract(rule, '$.timezone') FROM schedules WHERE site = ? "
                  "LIMIT 1", (site,)).fetchone()
    return str(r[0]) if r and r[0] else None
