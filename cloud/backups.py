"""``gatepost cloud backup`` and ``gatepost cloud restore`` for the embedded SQLite database.

A backup is taken while the cloud runs (SQLite's online backup API: one consistent moment). A
restore puts a backup in place of the database of a stopped cloud, brings its schema to this
release and starts a new rules epoch: versions made after the backup are gone, and the numbers
alone cannot tell the boxes so, the epoch does (every box replaces its rules from a snapshot as
soon as it sees the cloud again). A PostgreSQL cloud is backed up with PostgreSQL's own tools
(``pg_dump``, base backups); after such a restore, ``gatepost cloud rules-reset`` does the same.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from cloud.society.epoch import new_epoch
from cloud.storage import Database
from cloud.storage.engine import database_url, redact
from shared.backup import BackupError, copy_sqlite, has_tables


def sqlite_path(db: str) -> Path:
    """The file of a SQLite cloud database; BackupError for any other."""
    url = make_url(database_url(db))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise BackupError(f"{redact(db)} is not a SQLite file: back a PostgreSQL cloud up with "
                          "pg_dump (then `gatepost cloud rules-reset` after restoring it)")
    return Path(url.database)


def backup(db: str, file: Path, force: bool = False) -> int:
    """Copy the (running) cloud's database to *file*; print what was copied."""
    try:
        got = copy_sqlite(sqlite_path(db), file, overwrite=force)
    except BackupError as exc:
        print(f"gatepost cloud backup: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"backup": got["file"], "from": redact(db), "bytes": got["bytes"],
                      "seconds": got["s"]}))
    return 0


def restore(file: Path, db: str, force: bool = False) -> int:
    """Put the backup *file* in place of the stopped cloud's database, upgrade it and start a
    new rules epoch; print the epoch before and after."""
    try:
        target = sqlite_path(db)
        if not Path(file).is_file():
            raise BackupError(f"{file}: no such backup")
        if not has_tables(Path(file), "sites", "events"):
            raise BackupError(f"{file} is not a backup of a cloud database")
        if target.exists() and not force:
            raise BackupError(f"{target} exists: stop the cloud, then restore with --force")
        copy_sqlite(Path(file), target, overwrite=True)
    except BackupError as exc:
        print(f"gatepost cloud restore: {exc}", file=sys.stderr)
        return 2
    database = Database(str(target))  # upgraded to this release's schema on open
    try:
        was, epoch = new_epoch(database, f"restored from {Path(file).name}")
    finally:
        database.close()
    print(json.dumps({"restored": str(target), "from": str(file), "epoch": epoch, "was": was}))
    return 0
