"""Storage of the fleet: which sites and gates each box was assigned (``edge_assignments``,
gate ``*`` for a whole site), the gates boxes claim (``edge_gates``), what each box last said
of itself (``edges``), and the last event number stored per gate of a box. ``cloud.fleet`` and
the MQTT ingest call these."""

from __future__ import annotations

import json
from collections.abc import Sequence

from cloud.storage.dialect import upsert_sql
from cloud.storage.tx import Row, Tx, in_chunks


def clear_assignment(c: Tx, edge: str) -> None:
    """Forget what a box was assigned."""
    c.execute("DELETE FROM edge_assignments WHERE edge = ?", (edge,))


def take_gate(c: Tx, site: str, gate: str, edge: str) -> bool:
    """A gate named for *edge* leaves every other box (assignment and claim); True if another
    box held it."""
    moved = c.execute("DELETE FROM edge_assignments WHERE site = ? AND gate = ? AND edge <> ?",
                      (site, gate, edge)).rowcount
    c.execute("DELETE FROM edge_gates WHERE site = ? AND gate = ? AND edge <> ?",
              (site, gate, edge))
    return moved > 0


def assign(c: Tx, rows: Sequence[tuple[str, str, str, str]]) -> None:
    """Assignment rows ``(edge, site, gate, at)``."""
    c.executemany("INSERT INTO edge_assignments(edge, site, gate, assigned_at) VALUES "
                  "(?, ?, ?, ?)", rows)


def assignment(c: Tx, edge: str) -> list[Row]:
    """A box's assignment rows (site, gate), in order."""
    return c.execute("SELECT site, gate FROM edge_assignments WHERE edge = ? ORDER BY site, "
                     "gate", (edge,)).fetchall()


def assigned_edges(c: Tx) -> set[str]:
    """Every box with an assignment."""
    return {r[0] for r in c.execute("SELECT DISTINCT edge FROM edge_assignments")}


def holders(c: Tx, site: str, gate: str) -> set[str]:
    """The boxes a gate is assigned to by name (or, with gate ``*``, a whole site)."""
    return {r[0] for r in c.execute("SELECT edge FROM edge_assignments WHERE site = ? AND "
                                    "gate = ?", (site, gate))}


def site_assignments(c: Tx, sites: Sequence[str] | None = None
                     ) -> dict[str, dict[str, frozenset[str]]]:
    """Sites' assignments, in one read per 500 sites (*sites* None: every site's, in one):
    site -> gate (``*``: the whole site) -> its boxes; a site named without any maps to
    ``{}``."""
    out: dict[str, dict[str, set[str]]] = {s: {} for s in sites or ()}
    sql = "SELECT site, gate, edge FROM edge_assignments"
    rows = c.execute(sql).fetchall() if sites is None else \
        in_chunks(c, sql + " WHERE site IN ({ids})", list(sites))
    for r in rows:
        out.setdefault(r[0], {}).setdefault(r[1], set()).add(r[2])
    return {s: {g: frozenset(e) for g, e in gates.items()} for s, gates in out.items()}


def set_edge_sites(c: Tx, edge: str, sites: list[str]) -> None:
    """Keep the box's sites on its staff identity (``edge:<id>``) too."""
    c.execute("UPDATE staff SET edge_sites = ? WHERE name = ?",
              (json.dumps(sorted(sites)), f"edge:{edge}"))


def claims(c: Tx, edge: str) -> list[Row]:
    """The gates a box has claimed (site, gate)."""
    return c.execute("SELECT site, gate FROM edge_gates WHERE edge = ?", (edge,)).fetchall()


def drop_claim(c: Tx, site: str, gate: str, edge: str) -> None:
    """Void a box's claim of a gate."""
    c.execute("DELETE FROM edge_gates WHERE site = ? AND gate = ? AND edge = ?",
              (site, gate, edge))


def claim(c: Tx, site: str, gate: str, edge: str, at: str) -> None:
    """Record that a box serves a gate (the latest claim wins)."""
    c.execute(upsert_sql("edge_gates", ("site", "gate", "edge", "at"), ("site", "gate")),
              (site, gate, edge, at))


def claimant(c: Tx, site: str, gate: str) -> str | None:
    """The box that claimed a gate."""
    row = c.execute("SELECT edge FROM edge_gates WHERE site = ? AND gate = ?",
                    (site, gate)).fetchone()
    return str(row[0]) if row else None


def set_availability(c: Tx, edge: str, availability: str, at: str) -> None:
    """What a box last said of itself (``online``, ``offline``, ``stopped``)."""
    c.execute(upsert_sql("edges", ("id", "availability", "at"), ("id",)),
              (edge, availability, at))


def edges(c: Tx) -> list[Row]:
    """Every box that said something of itself."""
    return c.execute("SELECT * FROM edges").fetchall()


def last_seqs(c: Tx, edge: str) -> dict[str, int]:
    """The highest event number stored per gate of a box, as ``site/gate``."""
    return {f"{r[0]}/{r[1]}": int(r[2]) for r in c.execute(
        "SELECT site, gate, max(seq) FROM events WHERE edge = ? GROUP BY site, gate", (edge,))}
