"""Who gets access codes at a site, under which regime, and the check report.

A site names the kinds of people eligible for codes (``owner``, ``tenant``, ``committee``) and
which of them are **free** (the others are on **subscription**). A person's kinds at a site are
the roles of their flats there, and ``committee`` while they sit on the site's committee with a
live mandate: started (a mandate without a start date is not live until it has one) and not
ended. A company (a resident marked as a legal entity) is never eligible, whatever its flats or
seat: the seed's rule, and why the person responsible for it sits as an *external
professional*. A person holding a free kind gets free codes; otherwise subscription codes.

The **check report** lists what keeps a committee from getting its codes, in the seed's words:
a mandate without a start, an expired mandate, a member with neither a unit nor the external
professional mark, a member who is not a resident of the unit they are recorded for and not
marked external, a company on the committee; and a live code whose holder is no longer
eligible (it will not be renewed).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from cloud.errors import CloudError
from cloud.refusals import Refusal
from cloud.storage import Row, Tx, residents
from cloud.storage import codes as store

KINDS = ("owner", "tenant", "committee")
CHECKS = ("mandate_without_start", "mandate_expired", "no_unit_or_external",
          "not_unit_resident", "company", "code_not_eligible")


def kinds_list(value: Any, field: str) -> str:
    """A list of kinds (or a comma-separated string) as stored, checked."""
    items = value.split(",") if isinstance(value, str) else list(value)
    kinds = [k.strip() for k in items if k.strip()]
    bad = sorted(set(kinds) - set(KINDS))
    if bad:
        raise CloudError(422, Refusal.BAD_CODE_SETTINGS, f"{field}: {', '.join(bad)} is not a kind "
                         f"of person ({', '.join(KINDS)})")
    return ",".join(k for k in KINDS if k in kinds)


def mandate_live(m: Row, today: date) -> bool:
    """Whether a committee seat's mandate has started and not ended."""
    start, end = m["mandate_start"], m["mandate_end"]
    return bool(start) and date.fromisoformat(start) <= today and \
        (not end or date.fromisoformat(end) >= today)


def kinds_by(c: Tx, holders: Sequence[str], today: date) -> dict[tuple[str, str], set[str]]:
    """The kinds each of *holders* is at each site today, by (site, resident); none for a
    company or a removed resident."""
    out: dict[tuple[str, str], set[str]] = {}
    for r in store.holder_flats(c, holders):
        out.setdefault((r["site"], r["resident"]), set()).add(r["role"])
    for m in store.holder_seats(c, holders):
        if mandate_live(m, today):
            out.setdefault((m["site"], m["resident"]), set()).add("committee")
    return out


def kinds_of(c: Tx, site: str, resident: str, today: date) -> set[str]:
    """The kinds a person is at a site today (none for a company or a removed resident)."""
    return kinds_by(c, [resident], today).get((site, resident), set())


def regime(cfg: Row, kinds: set[str]) -> str | None:
    """The regime a person's codes follow at a site: free, subscription, or None (not
    eligible)."""
    eligible = kinds & set(cfg["eligible"].split(","))
    if not eligible:
        return None
    return "free" if eligible & set(cfg["free"].split(",")) else "subscription"


def set_member(c: Tx, site: str, resident: str, role: str, flat: str | None, external: bool,
               mandate_start: date | None, mandate_end: date | None, at: datetime) -> None:
    """Seat a resident on a site's committee (or change their seat)."""
    who = residents.get(c, resident)
    if who is None or who["removed_at"]:
        raise CloudError(404, Refusal.UNKNOWN_RESIDENT, f"resident {resident} does not exist")
    if mandate_start and mandate_end and mandate_end < mandate_start:
        raise CloudError(422, Refusal.BAD_MANDATE, "a mandate ends after it starts")
    store.set_member(c, (site, resident, role, flat, int(external),
                         mandate_start.isoformat() if mandate_start else None,
                         mandate_end.isoformat() if mandate_end else None, at.isoformat()))


def member_view(m: Row, today: date) -> dict[str, Any]:
    """A committee seat as an answer."""
    return {"resident": m["resident"], "name": m["name"], "role": m["role"], "flat": m["flat"],
            "external": bool(m["external"]), "mandate_start": m["mandate_start"],
            "mandate_end": m["mandate_end"], "live": mandate_live(m, today)}


def check(c: Tx, site: str, today: date) -> list[dict[str, Any]]:
    """The inconsistencies that keep people of a site from their codes, by resident."""
    out: list[dict[str, Any]] = []
    homes = {(r["id"], r["flat"]) for r in residents.of_site(c, site)}
    cfg = store.settings(c, site)

    def add(resident: str, name: str, flat: str | None, issue: str, detail: str) -> None:
        out.append({"site": site, "resident": resident, "name": name, "flat": flat,
                    "issue": issue, "detail": detail})

    for m in store.members(c, site):
        rid, name, flat = m["resident"], m["name"], m["flat"]
        if m["company"]:
            add(rid, name, flat, "company", "a company gets no codes: seat the person "
                "responsible for it as an external professional")
        if not m["mandate_start"]:
            add(rid, name, flat, "mandate_without_start", "the mandate has no start date")
        if m["mandate_end"] and date.fromisoformat(m["mandate_end"]) < today:
            add(rid, name, flat, "mandate_expired", f"the mandate ended on {m['mandate_end']}")
        if not flat and not m["external"]:
            add(rid, name, flat, "no_unit_or_external", "neither a unit nor marked as an "
                "external professional")
        elif flat and not m["external"] and (rid, flat) not in homes:
            add(rid, name, flat, "not_unit_resident", f"not a resident of unit {flat} and not "
                "marked as an external professional")
    if cfg is not None:
        live = [r for r in store.of_site(c, site)
                if r["kind"] == "person" and r["status"] in store.LIVE]
        kinds = kinds_by(c, sorted({r["holder"] for r in live}), today)
        for r in live:
            if regime(cfg, kinds.get((site, r["holder"]), set())) is None:
                add(r["holder"], r["label"], r["flat"], "code_not_eligible",
                    f"holds code {r['id']} but is no longer eligible: it will not be renewed")
    return sorted(out, key=lambda x: (x["flat"] or "", x["name"], x["issue"]))
