"""Storage of the partner integrations: each society's partner, the links of residents'
vehicles to it with their history (which resident was connected from when), the forwarding
outbox (one row per event, unique by the event), and what the partner API may show.

A link counts only while its resident is still entitled to the vehicle (``ENTITLED``: the
vehicle is theirs, or their flat's): a resident who left, or a car given to someone else,
forwards nothing under the old link, whatever a later step failed to record."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cloud.storage.dialect import insert_many_ignore, upsert_sql
from cloud.storage.tx import Row, Tx

LINK_COLUMNS = ("site", "vrn", "resident", "partner", "state", "reason", "opted_in",
                "partner_user", "updated_at")
# The link's resident still has the vehicle (as ``l``, its vehicle as ``v``).
ENTITLED = ("(v.resident = l.resident OR EXISTS (SELECT 1 FROM resident_flats f WHERE "
            "f.site = v.site AND f.flat = v.flat AND f.resident = l.resident))")
_LIVE = f"l.state = 'connected' AND {ENTITLED}"
_JOIN_V = "JOIN vehicles v ON v.site = l.site AND v.vrn = l.vrn"
OUTBOX_COLUMNS = ("event_id", "edge", "site", "vrn", "partner", "at", "payload", "created_at")
OUTBOX_TYPES = ("text",) * len(OUTBOX_COLUMNS)


# Societies' partners -------------------------------------------------------------------------

def site_partner(c: Tx, site: str) -> Row | None:
    """A society's partner (with its credential: for the cloud's own calls only)."""
    return c.execute("SELECT * FROM site_partners WHERE site = ?", (site,)).fetchone()


def set_site_partner(c: Tx, site: str, partner: str, mode: str, endpoint: str,
                     credential: str, signing_secret: str, at: str) -> None:
    """Integrate a society with a partner (or change how)."""
    c.execute(upsert_sql("site_partners", ("site", "partner", "mode", "endpoint", "credential",
                                           "signing_secret", "updated_at"), ("site",)),
              (site, partner, mode, endpoint, credential, signing_secret, at))


def delete_site_partner(c: Tx, site: str) -> bool:
    """End a society's integration; False if it had none."""
    return c.execute("DELETE FROM site_partners WHERE site = ?", (site,)).rowcount > 0


def sites_of_partner(c: Tx, partner: str) -> list[str]:
    """The societies integrated with *partner*."""
    return [r[0] for r in c.execute("SELECT site FROM site_partners WHERE partner = ? "
                                    "ORDER BY site", (partner,))]


# Links of vehicles ---------------------------------------------------------------------------

def link(c: Tx, site: str, vrn: str) -> Row | None:
    """A vehicle's link to its society's partner."""
    return c.execute("SELECT * FROM partner_links WHERE site = ? AND vrn = ?",
                     (site, vrn)).fetchone()


def live_link(c: Tx, site: str, vrn: str) -> Row | None:
    """A vehicle's link, if its resident still has the vehicle (else as if there were none)."""
    return c.execute(f"SELECT l.* FROM partner_links l {_JOIN_V} WHERE l.site = ? AND "
                     f"l.vrn = ? AND {ENTITLED}", (site, vrn)).fetchone()


def set_link(c: Tx, row: Sequence[Any]) -> None:
    """Write a vehicle's link (``LINK_COLUMNS`` order), and its history: who, in which state,
    from when."""
    c.execute(upsert_sql("partner_links", LINK_COLUMNS, ("site", "vrn")), tuple(row))
    site, vrn, resident, partner, state = row[:5]
    c.execute("INSERT INTO partner_link_history(site, vrn, resident, partner, state, at) "
              "VALUES (?, ?, ?, ?, ?, ?)", (site, vrn, resident, partner, state, row[-1]))


def links_of(c: Tx, resident: str) -> list[Row]:
    """The links naming a resident, with their society's partner (if it has one still)."""
    return c.execute("SELECT l.*, p.endpoint, p.credential, p.signing_secret FROM "
                     "partner_links l LEFT JOIN site_partners p ON p.site = l.site AND "
                     "p.partner = l.partner WHERE l.resident = ? ORDER BY l.site, l.vrn",
                     (resident,)).fetchall()


def site_links(c: Tx, site: str) -> list[Row]:
    """Every link of a society, with the resident's name and phone."""
    return c.execute("SELECT l.*, r.name, r.phone FROM partner_links l LEFT JOIN residents r "
                     "ON r.id = l.resident WHERE l.site = ? ORDER BY l.vrn", (site,)).fetchall()


def connected(c: Tx, pairs: Sequence[tuple[str, str]]
              ) -> dict[tuple[str, str], tuple[str, str]]:
    """Of the (site, VRN) pairs, those connected now to their society's partner by a resident
    who still has the vehicle: (partner, resident)."""
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for i in range(0, len(pairs), 200):
        part = pairs[i:i + 200]
        where = " OR ".join("(l.site = ? AND l.vrn = ?)" for _ in part)
        for r in c.execute(f"SELECT l.site, l.vrn, l.partner, l.resident FROM partner_links l "
                           f"{_JOIN_V} WHERE {_LIVE} AND ({where})",
                           [v for p in part for v in p]):
            out[(r[0], r[1])] = (r[2], r[3])
    return out


def history(c: Tx, pairs: Sequence[tuple[str, str]]
            ) -> dict[tuple[str, str], list[tuple[str, str, str]]]:
    """The links' changes of the (site, VRN) pairs, oldest first: (at, resident, state)."""
    out: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for i in range(0, len(pairs), 200):
        part = pairs[i:i + 200]
        where = " OR ".join("(site = ? AND vrn = ?)" for _ in part)
        for r in c.execute(f"SELECT site, vrn, at, resident, state FROM partner_link_history "
                           f"WHERE {where} ORDER BY id", [v for p in part for v in p]):
            out.setdefault((r[0], r[1]), []).append((r[2], r[3], r[4]))
    return out


# The forwarding outbox -----------------------------------------------------------------------

def enqueue(c: Tx, rows: Sequence[Sequence[Any]]) -> int:
    """Queue events for their partners (``OUTBOX_COLUMNS`` order); an event queued before is
    skipped. How many were queued."""
    return len(insert_many_ignore(c, "partner_outbox", OUTBOX_COLUMNS, OUTBOX_TYPES, rows,
                                  ("id",)))


_PENDING = ("FROM partner_outbox o JOIN site_partners p ON p.site = o.site AND "
            "p.partner = o.partner WHERE o.sent_at IS NULL AND o.cancelled_at IS NULL")


def pending_endpoints(c: Tx) -> list[str]:
    """The endpoints events wait for."""
    return [r[0] for r in c.execute(f"SELECT DISTINCT p.endpoint {_PENDING} ORDER BY 1")]


def pending(c: Tx, limit: int, endpoint: str | None = None) -> list[Row]:
    """Events waiting for their partner (at *endpoint*, if given), by vehicle, each vehicle's
    oldest first, with the society's partner endpoint, credential and signing secret."""
    only, args = (" AND p.endpoint = ?", (endpoint,)) if endpoint is not None else ("", ())
    return c.execute(
        f"SELECT o.*, p.endpoint, p.credential, p.signing_secret {_PENDING}{only} "
        "ORDER BY o.site, o.vrn, o.at, o.id LIMIT ?", (*args, limit)).fetchall()


def still_sendable(c: Tx, outbox_id: int) -> bool:
    """Whether a queued event is still to be sent: not sent, not cancelled, and its vehicle
    still connected by a resident who has it (an opt-out since it was read stops it)."""
    return c.execute(
        f"SELECT 1 FROM partner_outbox o JOIN partner_links l ON l.site = o.site AND "
        f"l.vrn = o.vrn {_JOIN_V} WHERE o.id = ? AND o.sent_at IS NULL AND "
        f"o.cancelled_at IS NULL AND {_LIVE}", (outbox_id,)).fetchone() is not None


def mark_sent(c: Tx, outbox_id: int, at: str) -> None:
    """The partner took the event."""
    c.execute("UPDATE partner_outbox SET sent_at = ?, attempts = attempts + 1, last_error = "
              "NULL WHERE id = ?", (at, outbox_id))


def mark_failed(c: Tx, outbox_id: int, error: str, next_at: str) -> None:
    """The partner did not take the event: try again at *next_at*."""
    c.execute("UPDATE partner_outbox SET attempts = attempts + 1, last_error = ?, next_at = ? "
              "WHERE id = ?", (error, next_at, outbox_id))


def cancel_vehicle(c: Tx, site: str, vrn: str, at: str) -> int:
    """Cancel every queued event of a vehicle (its resident opted out); how many."""
    return c.execute("UPDATE partner_outbox SET cancelled_at = ? WHERE site = ? AND vrn = ? "
                     "AND sent_at IS NULL AND cancelled_at IS NULL", (at, site, vrn)).rowcount


def outbox_counts(c: Tx, site: str | None = None) -> dict[str, int]:
    """Queued, sent and cancelled events (of one society, or all)."""
    where, args = (" WHERE site = ?", (site,)) if site else ("", ())
    row = c.execute("SELECT sum(CASE WHEN sent_at IS NULL AND cancelled_at IS NULL THEN 1 "
                    "ELSE 0 END), sum(CASE WHEN sent_at IS NOT NULL THEN 1 ELSE 0 END), "
                    "sum(CASE WHEN cancelled_at IS NOT NULL THEN 1 ELSE 0 END) FROM "
                    f"partner_outbox{where}", args).fetchone()
    if row is None:
        return {"pending": 0, "sent": 0, "cancelled": 0}
    return {"pending": int(row[0] or 0), "sent": int(row[1] or 0),
            "cancelled": int(row[2] or 0)}


# What the partner API shows -------------------------------------------------------------------

def shown_vrns(c: Tx, site: str, partner: str) -> set[str]:
    """The society's vehicles connected to *partner* now by a resident who has them: all the
    partner API shows of its vehicles and tags."""
    return {r[0] for r in c.execute(f"SELECT l.vrn FROM partner_links l {_JOIN_V} WHERE "
                                    f"l.site = ? AND l.partner = ? AND {_LIVE}",
                                    (site, partner))}


def shown_events(c: Tx, site: str, partner: str, since: str | None, limit: int,
                 offset: int) -> list[Row]:
    """The passes *partner* was or will be sent (queued for it, not cancelled) of vehicles
    connected to it now, oldest first: their forwarded payloads."""
    after, args = (" AND o.at >= ?", (since,)) if since else ("", ())
    return c.execute(
        f"SELECT o.payload FROM partner_outbox o JOIN partner_links l ON l.site = o.site AND "
        f"l.vrn = o.vrn AND l.partner = o.partner {_JOIN_V} WHERE o.site = ? AND "
        f"o.partner = ? AND o.cancelled_at IS NULL AND {_LIVE}{after} ORDER BY o.at, o.id "
        "LIMIT ? OFFSET ?", (site, partner, *args, limit, offset)).fetchall()
