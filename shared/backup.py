"""Backups of a SQLite database that is in use, with SQLite's online backup API.

The copy is taken in one step: SQLite holds a read transaction on the source for its length, so
the copy is the database as of one moment, while the daemon that owns it keeps reading and
writing (WAL). It is written beside the target, checked (``PRAGMA quick_check``, and
``integrity_check`` to confirm a fault it reports), made readable by its owner only, and renamed
into place.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path


class BackupError(Exception):
    """A backup or restore that cannot be made, with the reason."""


def copy_sqlite(src: Path, dst: Path, *, overwrite: bool = False) -> dict:
    """Copy the live database *src* to *dst*; what was copied (``bytes``, ``pages``, ``s``)."""
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise BackupError(f"{src}: no such database")
    if dst.exists() and not overwrite:
        raise BackupError(f"{dst} exists; give another file (or --force)")
    part = dst.with_name(f"{dst.name}.part")
    part.unlink(missing_ok=True)
    t0 = time.monotonic()
    source = sqlite3.connect(src)
    try:
        target = sqlite3.connect(part)
        try:
            os.chmod(part, 0o600)  # tags, plates, accounts: the owner's only
            source.backup(target)
            pages = int(target.execute("PRAGMA page_count").fetchone()[0])
            check = verdict(target)
        finally:
            target.close()
    finally:
        source.close()
    if check != "ok":
        part.unlink(missing_ok=True)
        raise BackupError(f"the copy of {src} failed its check: {check}")
    for suffix in ("-wal", "-shm"):  # a log of the database the copy replaces is not its own
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    os.replace(part, dst)
    return {"file": str(dst), "bytes": dst.stat().st_size, "pages": pages,
            "s": round(time.monotonic() - t0, 3)}


def verdict(conn: sqlite3.Connection) -> str:
    """``ok``, or the first fault SQLite finds in the database of *conn*.

    ``quick_check`` is the fast pass; a fault it reports is confirmed by ``integrity_check``
    before it is believed. SQLite 3.40 (Debian 12, Raspberry Pi OS) reads the NOT NULL columns
    of a WITHOUT ROWID table whose primary key is not in column order from the wrong place in
    ``quick_check`` only ("NULL value in sub_vehicles.sub" on every box with a parking
    subscription); ``integrity_check`` reads them right on every version."""
    check = str(conn.execute("PRAGMA quick_check").fetchone()[0])
    if check == "ok":
        return check
    return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def has_tables(path: Path, *names: str) -> bool:
    """Whether the SQLite file at *path* holds every table named."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        got = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a SQLite database ({exc})") from exc
    finally:
        conn.close()
    return set(names) <= got
