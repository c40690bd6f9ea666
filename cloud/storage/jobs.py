"""Storage of the periodic jobs' last runs, so several cloud processes run each once a
period (``cloud.jobs`` holds the job's lock while it reads and claims)."""

from __future__ import annotations

from cloud.storage.dialect import upsert_sql
from cloud.storage.tx import Tx


def last_run(c: Tx, name: str) -> float | None:
    """When the job last ran (a Unix time), in any process."""
    last = c.execute("SELECT last_at FROM job_runs WHERE name = ?", (name,)).scalar()
    return None if last is None else float(last)


def claim_run(c: Tx, name: str, at: float, holder: str) -> None:
    """Record that *holder* runs the job now."""
    c.execute(upsert_sql("job_runs", ("name", "last_at", "holder"), ("name",)),
              (name, at, holder))
