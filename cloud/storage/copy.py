"""``gatepost cloud copy``: move a cloud's data from one database to another (a society's
SQLite file to the fleet's PostgreSQL), table by table, then compare the counts.

Both sides are brought to the newest schema first; the destination must be empty. Rows go over
in pages, so a large database never sits in memory whole; PostgreSQL's id sequences are moved
past the copied ids afterwards.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, MetaData, Table, func, insert, select, text

from cloud.storage.database import Database

PAGE = 5000
SKIP = {"alembic_version"}


class CopyError(Exception):
    """The copy cannot go ahead (the destination is not empty, the counts differ)."""


def copy_database(src_url: str, dst_url: str,
                  progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Copy every table of *src_url* into the empty *dst_url*; rows per table, equal on both
    sides (else :class:`CopyError`)."""
    src, dst = Database(src_url), Database(dst_url)
    try:
        meta = MetaData()
        meta.reflect(bind=src.engine)
        tables = [t for t in meta.sorted_tables if t.name not in SKIP]
        with dst.engine.connect() as conn:
            for t in tables:
                if conn.execute(select(func.count()).select_from(t)).scalar():
                    raise CopyError(f"the destination's {t.name} is not empty: copy only into "
                                    "a new database")
        counts: dict[str, int] = {}
        with src.engine.connect() as s_conn, dst.engine.begin() as d_conn:
            for t in tables:
                n = 0
                rows = s_conn.execution_options(yield_per=PAGE).execute(select(t))
                for page in rows.partitions():
                    d_conn.execute(insert(t), [dict(r._mapping) for r in page])
                    n += len(page)
                counts[t.name] = n
                if progress:
                    progress(t.name, n)
            if dst.dialect == "postgresql":
                _move_sequences(d_conn, tables)
        with dst.engine.connect() as conn:
            for t in tables:
                got = conn.execute(select(func.count()).select_from(t)).scalar()
                if got != counts[t.name]:
                    raise CopyError(f"{t.name}: {counts[t.name]} rows read, {got} in the "
                                    "destination")
        return counts
    finally:
        src.close()
        dst.close()


def _move_sequences(conn: Connection, tables: list[Table]) -> None:
    """Set each serial id's sequence past the largest copied id, so new rows do not collide."""
    for t in tables:
        if "id" not in t.c or not t.c.id.autoincrement or t.c.id.type.python_type is not int:
            continue
        conn.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{t.name}', 'id'), "
            f"coalesce((SELECT max(id) FROM {t.name}), 0) + 1, false)"))
