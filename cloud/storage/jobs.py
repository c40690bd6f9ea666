"""Storage of the periodic jobs' runs, so several cloud processes run each once a period: when
the last completed run started, who claimed the job last and until when their lease holds, and
how a failed run waits before it is tried again (``cloud.jobs`` reads and claims under the
job's lock)."""

from __future__ import annotations

from cloud.storage.tx import Row, Tx


def run_of(c: Tx, name: str) -> Row | None:
    """The job's row: ``last_at`` (start of its last completed run, a Unix time; 0: never),
    ``holder``, ``lease_until`` (None: nobody holds it), ``attempts`` (failures in a row) and
    ``next_at`` (a failed run is not tried again before)."""
    return c.execute("SELECT * FROM job_runs WHERE name = ?", (name,)).fetchone()


def claim(c: Tx, name: str, holder: str, lease_until: float) -> None:
    """*holder* runs the job now, its lease holding until *lease_until*."""
    c.execute("INSERT INTO job_runs(name, last_at, holder, lease_until) VALUES (?, 0, ?, ?) "
              "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
              "lease_until = excluded.lease_until", (name, holder, lease_until))


def renew(c: Tx, name: str, holder: str, lease_until: float) -> bool:
    """The holder is alive: its lease holds until *lease_until*. False when the job is no
    longer its own (another process took it over)."""
    return c.execute("UPDATE job_runs SET lease_until = ? WHERE name = ? AND holder = ? AND "
                     "lease_until IS NOT NULL", (lease_until, name, holder)).rowcount > 0


def completed(c: Tx, name: str, holder: str, started: float) -> bool:
    """The holder's run (begun at *started*) completed: the period is done, the lease let go.
    False when the job was taken over meanwhile (the taker's run counts instead)."""
    return c.execute("UPDATE job_runs SET last_at = ?, lease_until = NULL, attempts = 0, "
                     "next_at = NULL WHERE name = ? AND holder = ?",
                     (started, name, holder)).rowcount > 0


def failed(c: Tx, name: str, holder: str, next_at: float) -> None:
    """The holder's run failed: the lease is let go, and the job is tried again (by any
    process) from *next_at*."""
    c.execute("UPDATE job_runs SET lease_until = NULL, attempts = attempts + 1, next_at = ? "
              "WHERE name = ? AND holder = ?", (next_at, name, holder))
