"""Transactions the domain code runs its statements in.

Statements use ``?`` placeholders (one statement text on both databases); they are turned into
SQLAlchemy bound parameters once per text, so the driver's own paramstyle never leaks into
domain code. Rows read both ways, by position and by column name, like ``sqlite3.Row``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import Connection, TextClause, text

# A string literal, a quoted identifier, or a placeholder: placeholders inside quotes stay.
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?")


@lru_cache(maxsize=2048)
def _compiled(sql: str) -> tuple[TextClause, int]:
    count = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal count
        if m.group(0) != "?":
            return m.group(0)
        count += 1
        return f":p{count - 1}"

    return text(_TOKEN.sub(repl, sql)), count


def _bind(n: int, params: Sequence[Any]) -> dict[str, Any]:
    if len(params) != n:
        raise ValueError(f"statement takes {n} parameters, {len(params)} given")
    return {f"p{i}": v for i, v in enumerate(params)}


class Row:
    """One row, as ``sqlite3.Row`` is: ``row[0]`` and ``row["col"]`` both work, iterating gives
    the values, and ``dict(row)`` gives the columns."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: tuple[Any, ...]) -> None:
        self._index = index
        self._values = values

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        """The column names, in order."""
        return list(self._index)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values, strict=True))!r})"


class Result:
    """What a statement gave: its rows (read at once) and how many rows it changed."""

    __slots__ = ("_i", "rowcount", "rows")

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount
        self._i = 0

    def fetchone(self) -> Row | None:
        """The next row, or None."""
        if self._i >= len(self.rows):
            return None
        self._i += 1
        return self.rows[self._i - 1]

    def fetchall(self) -> list[Row]:
        """The rows not yet fetched."""
        rest, self._i = self.rows[self._i:], len(self.rows)
        return rest

    def scalar(self) -> Any:
        """The first column of the first row, or None."""
        return self.rows[0][0] if self.rows else None

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())


class Tx(Protocol):
    """What domain code runs statements on: a transaction, or ``db.conn`` (one each)."""

    dialect: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        """Run one statement with ``?`` placeholders; rows are read at once."""

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> int:
        """Run one statement for each parameter tuple; the rows it changed."""


class Transaction:
    """Statements on one connection, inside the transaction its owner opened."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        """Run one statement with ``?`` placeholders; rows are read at once."""
        clause, n = _compiled(sql)
        res = self.conn.execute(clause, _bind(n, params))
        if not res.returns_rows:
            return Result([], res.rowcount)
        index = {k: i for i, k in enumerate(res.keys())}
        return Result([Row(index, tuple(r)) for r in res], res.rowcount)

    def stream(self, sql: str, params: Sequence[Any] = (), page: int = 5000
               ) -> Iterator[Row]:
        """Run a query and hand its rows over *page* at a time (a server-side cursor on
        PostgreSQL), so a large result is never held whole."""
        clause, n = _compiled(sql)
        res = self.conn.execution_options(yield_per=page).execute(clause, _bind(n, params))
        index = {k: i for i, k in enumerate(res.keys())}
        for part in res.partitions():
            for r in part:
                yield Row(index, tuple(r))

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> int:
        """Run one statement for each parameter tuple; the rows it changed."""
        clause, n = _compiled(sql)
        batch = [_bind(n, p) for p in seq]
        if not batch:
            return 0
        return int(self.conn.execute(clause, batch).rowcount)


def in_chunks(c: Tx, sql: str, ids: Sequence[Any], n: int = 500) -> list[Row]:
    """*sql*, whose ``{ids}`` stands for a list of placeholders, run over *ids* *n* at a
    time."""
    out: list[Row] = []
    for i in range(0, len(ids), n):
        part = tuple(ids[i:i + n])
        out += c.execute(sql.format(ids=", ".join("?" for _ in part)), part).fetchall()
    return out
