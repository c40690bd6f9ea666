"""The stored change log's JSON (``rule_changes.changes``): a list of changes, each with
every field of every op, ``null`` where the op has none, in one fixed order. That is how the
log was written before changes were typed, and it stays so: the rows of both read alike."""

from __future__ import annotations

import json
from typing import Any

from shared.contract import CHANGE_FIELDS, CHANGES, Change


def logged(change: Change) -> dict[str, Any]:
    """One change as a log entry: its own fields, and ``null`` for the other ops'."""
    entry: dict[str, Any] = dict.fromkeys(CHANGE_FIELDS)
    entry.update(change.model_dump(mode="json"))
    return entry


def dumps(changes: list[Change]) -> str:
    """The log's JSON of one version's changes."""
    return json.dumps([logged(ch) for ch in changes])


def loads(text: str | bytes) -> list[Change]:
    """The changes of one stored version (of any age)."""
    return CHANGES.validate_json(text)
