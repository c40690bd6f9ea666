"""The few statements SQLite and PostgreSQL spell differently, said once.

Domain code calls these instead of forking on the database: upserts (both speak
``ON CONFLICT``, SQLite since 3.24), a text field of a JSON column, and row locks.
"""

from __future__ import annotations

from collections.abc import Sequence

from cloud.storage.tx import Tx


def quoted(col: str) -> str:
    """A column name quoted for both databases (``end`` is reserved in PostgreSQL)."""
    return f'"{col}"'


def upsert_sql(table: str, cols: Sequence[str], key: Sequence[str]) -> str:
    """Insert a row, or update every other given column of the row with the same *key*."""
    names = ", ".join(quoted(c) for c in cols)
    marks = ", ".join("?" for _ in cols)
    rest = [c for c in cols if c not in key]
    conflict = ", ".join(quoted(c) for c in key)
    if not rest:
        return f"INSERT INTO {table}({names}) VALUES ({marks}) ON CONFLICT ({conflict}) DO NOTHING"
    sets = ", ".join(f"{quoted(c)} = excluded.{quoted(c)}" for c in rest)
    return (f"INSERT INTO {table}({names}) VALUES ({marks}) "
            f"ON CONFLICT ({conflict}) DO UPDATE SET {sets}")


def insert_ignore_sql(table: str, cols: Sequence[str]) -> str:
    """Insert a row unless one with the same unique key is there (rowcount 0 then)."""
    names = ", ".join(quoted(c) for c in cols)
    marks = ", ".join("?" for _ in cols)
    return f"INSERT INTO {table}({names}) VALUES ({marks}) ON CONFLICT DO NOTHING"


def json_text(tx: Tx, column: str, field: str) -> str:
    """An SQL expression for the text of *field* in the JSON text *column*."""
    if not field.isidentifier():
        raise ValueError(f"not a JSON field name: {field!r}")
    if tx.dialect == "postgresql":
        return f"(({column})::json ->> '{field}')"
    return f"json_extract({column}, '$.{field}')"


def for_update(tx: Tx) -> str:
    """The clause that locks the selected rows until commit.

    PostgreSQL locks the rows (two processes changing one site wait for each other); SQLite
    needs none, since its write transactions already hold the one writer lock from BEGIN.
    """
    return " FOR UPDATE" if tx.dialect == "postgresql" else ""


def insert_many_ignore(tx: Tx, table: str, cols: Sequence[str], types: Sequence[str],
                       rows: Sequence[Sequence[object]], returning: Sequence[str]) -> list:
    """Insert many rows in one statement, skipping those whose unique key is taken; the
    *returning* columns of the rows inserted. PostgreSQL gets one array per column
    (``unnest``: a short statement however many rows), SQLite a multi-row ``VALUES``.
    *types* are the columns' SQL types (``text``, ``bigint``), for PostgreSQL's arrays."""
    if not rows:
        return []
    names = ", ".join(quoted(c) for c in cols)
    back = ", ".join(quoted(c) for c in returning)
    if tx.dialect == "postgresql":
        arrays = ", ".join(f"CAST(? AS {t}[])" for t in types)
        sql = (f"INSERT INTO {table}({names}) SELECT * FROM unnest({arrays}) "
               f"ON CONFLICT DO NOTHING RETURNING {back}")
        return tx.execute(sql, [list(col) for col in zip(*rows, strict=True)]).fetchall()
    row = "(" + ", ".join("?" for _ in cols) + ")"
    sql = (f"INSERT INTO {table}({names}) VALUES {', '.join(row for _ in rows)} "
           f"ON CONFLICT DO NOTHING RETURNING {back}")
    return tx.execute(sql, [v for r in rows for v in r]).fetchall()
