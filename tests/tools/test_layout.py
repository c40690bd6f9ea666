"""The cloud's layout holds: domain packages and routers ask the storage layer and write no SQL
of their own (``cloud/storage/`` alone speaks to the database)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# ``.stream(`` is a streamed query, except an HTTP connection pool's (the partner calls)
SQL = re.compile(r"\.execute(many)?\(|(?<!pool)\.stream\(|\b(SELECT|INSERT INTO|UPDATE \w+ SET|"
                 r"DELETE FROM)\b")


def test_only_the_storage_layer_writes_sql() -> None:
    offenders = []
    for path in sorted((ROOT / "cloud").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("cloud/storage/"):
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if SQL.search(line):
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert offenders == [], "SQL outside cloud/storage:\n" + "\n".join(offenders)
