"""The cloud's storage: SQLAlchemy Core on SQLite (embedded default) or PostgreSQL, with
Alembic migrations. Domain code runs its statements in a :class:`Tx` from :class:`Database`;
what the two databases spell differently is in :mod:`cloud.storage.dialect`."""

from cloud.storage.database import Database, UnsafeDatabase, head_revision, open_durable
from cloud.storage.engine import database_url, default_db, redact
from cloud.storage.tx import Result, Row, Tx

__all__ = ["Database", "Result", "Row", "Tx", "UnsafeDatabase", "database_url", "default_db",
           "head_revision", "open_durable", "redact"]
