"""The cloud's database: an engine, its schema brought to the newest Alembic revision, and
the transactions domain code runs in."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from cloud.storage import legacy
from cloud.storage.engine import WriterTurns, database_url, make_engine, redact
from cloud.storage.tx import Result, Transaction, Tx

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# Held while a process migrates a PostgreSQL database, so cloud processes starting together
# apply each revision once.
_MIGRATE_LOCK = 0x6761746570  # "gatep"
_WRITES = ("INSERT", "UPDATE", "DELETE")


def alembic_config() -> Config:
    """Alembic's configuration for the cloud's revisions (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest schema revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


@contextmanager
def _file_lock(path: str, wait: bool) -> Iterator[bool]:
    with open(path, "a+b") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class UnsafeDatabase(ValueError):
    """The database may lose commits it has acknowledged (a cloud process will not serve
    from it unless told to)."""


def open_durable(db: str | Path, *, allow_async_commit: bool = False) -> Database:
    """The database a cloud process serves from, brought to the newest schema; refused
    (``UnsafeDatabase``, before anything is migrated) when it may lose commits it has
    acknowledged (``Database.durability_problems``), unless *allow_async_commit*."""
    database = Database(db, upgrade=False)
    try:
        problems = [] if allow_async_commit else database.durability_problems()
        if problems:
            raise UnsafeDatabase(
                f"{redact(database.url)} may lose events already acknowledged to the boxes: "
                f"{'; '.join(problems)}. Or start with GATEPOST_ALLOW_ASYNC_COMMIT=true, for "
                "a database you can afford to lose (tests)")
        database.upgrade()
    except BaseException:
        database.close()
        raise
    return database


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


class _AutoTx:
    """``db.conn``: each statement in a transaction of its own."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.dialect = db.dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        write = sql.lstrip()[:6].upper() in _WRITES
        with self._db.transaction(write=write) as tx:
            return tx.execute(sql, params)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> int:
        with self._db.transaction(write=True) as tx:
            return tx.executemany(sql, seq)


class Database:
    """The cloud's data on SQLite (a file, the default) or PostgreSQL (a URL)."""

    def __init__(self, db: str | Path, *, upgrade: bool = True) -> None:
        self.url = database_url(db)
        self.engine = make_engine(self.url)
        self.dialect = self.engine.dialect.name
        self.conn: Tx = _AutoTx(self)
        db_file = self.engine.url.database if self.dialect == "sqlite" else None
        self._file = db_file if db_file not in (None, "", ":memory:") else None
        self._locks: dict[str, threading.Lock] = {}
        self._writers = WriterTurns() if self.dialect == "sqlite" else None
        self._locks_lock = threading.Lock()
        if upgrade:
            self.upgrade()

    def __repr__(self) -> str:
        return f"Database({redact(self.url)})"

    @contextmanager
    def transaction(self, *, write: bool, repeatable: bool = False) -> Iterator[Transaction]:
        """One transaction, committed when the block ends without an exception. With
        *repeatable*, every statement sees the database as of the first (PostgreSQL's
        REPEATABLE READ; a SQLite read transaction always does)."""
        turn = self._writers if write and self._writers else nullcontext()
        with turn, self.engine.connect() as conn:  # SQLite: writers in turn (WriterTurns)
            if write:
                conn = conn.execution_options(gatepost_write=True)
            elif repeatable and self.dialect == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield Transaction(conn)

    def write(self) -> AbstractContextManager[Tx]:
        """A write transaction (on SQLite it holds the writer lock from its start)."""
        return self.transaction(write=True)

    def read(self) -> AbstractContextManager[Tx]:
        """A read transaction (each statement sees what was committed before it)."""
        return self.transaction(write=False)

    def snapshot(self) -> AbstractContextManager[Transaction]:
        """A read transaction that sees one state of the database throughout, and can stream
        large results (``Transaction.stream``)."""
        return self.transaction(write=False, repeatable=True)

    @contextmanager
    def exclusive(self, name: str, *, wait: bool = True) -> Iterator[bool]:
        """Hold the cloud-wide lock *name* for the block: one holder across every cloud
        process on this database. Yields False (at once) when *wait* is off and another
        holds it. A holder that dies lets go: PostgreSQL ends its session's advisory lock,
        and the kernel drops the SQLite file lock of a dead process."""
        local = self._local_lock(name)
        if not local.acquire(blocking=wait):
            yield False
            return
        try:
            if self.dialect == "postgresql":
                with self._pg_lock(name, wait) as got:
                    yield got
            elif self._file is None:
                yield True  # in memory: one process, the thread lock is enough
            else:
                with _file_lock(f"{self._file}.{name}.lock", wait) as got:
                    yield got
        finally:
            local.release()

    def _local_lock(self, name: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(name, threading.Lock())

    @contextmanager
    def _pg_lock(self, name: str, wait: bool) -> Iterator[bool]:
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            if wait:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
                got = True
            else:
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                        {"k": key}).scalar())
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})

    def durability_problems(self) -> list[str]:
        """Why a commit this database acknowledges might not survive a crash: PostgreSQL's
        ``synchronous_commit`` or ``fsync`` off (for this database's sessions). None on SQLite
        (WAL with ``synchronous=NORMAL`` keeps every commit when a process is killed)."""
        if self.dialect != "postgresql":
            return []
        with self.engine.connect() as conn:
            sync = conn.execute(text("SHOW synchronous_commit")).scalar()
            fsync = conn.execute(text("SHOW fsync")).scalar()
        out = []
        if sync == "off":
            out.append("synchronous_commit is off (a commit is acknowledged before it is on "
                       "disk; the last ones are lost when the server stops uncleanly): "
                       "ALTER DATABASE … SET synchronous_commit = on (or ALTER ROLE, or "
                       "postgresql.conf, wherever it was turned off)")
        if fsync == "off":
            out.append("fsync is off (nothing is forced to disk; an operating system crash "
                       "loses commits and may corrupt the database): fsync = on in "
                       "postgresql.conf")
        return out

    def revision(self) -> str | None:
        """The schema revision the database is at (None: empty)."""
        with self.engine.connect() as conn:
            return _current(conn)

    def upgrade(self) -> tuple[str | None, str]:
        """Bring the schema to the newest revision; return (from, to)."""
        pre_alembic = (self._file is not None and Path(self._file).exists()
                       and legacy.bring_up_to_date(str(self._file)))
        head = head_revision()
        with self.engine.connect() as conn:
            conn = conn.execution_options(gatepost_write=True)
            with conn.begin():
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK})
                cfg = alembic_config()
                cfg.attributes["connection"] = conn
                before = _current(conn)
                if before is None and pre_alembic:
                    command.stamp(cfg, "0001_baseline")
                    before = "0001_baseline"
                    log.info("pre-Alembic database at %s taken as revision %s", legacy.LAST,
                             before)
                if before != head:
                    command.upgrade(cfg, "head")
                    log.info("database %s upgraded from %s to %s", redact(self.url), before,
                             head)
        return before, head

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
