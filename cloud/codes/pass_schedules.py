"""A recurring visitor pass's own schedule: its days and hours, kept as a site schedule named
after the pass, and dropped once the pass is settled."""

from __future__ import annotations

from cloud.storage import Tx
from cloud.storage import schedules as schedule_store
from shared.contract import Change, ScheduleDelete


def own_schedule(code_id: str) -> str:
    """The name of the schedule a recurring pass's days and hours become."""
    return f"pass-{code_id}"


def dropped_schedule(c: Tx, site: str, code_id: str) -> list[Change]:
    """A settled pass's own schedule removed (nothing when it had none)."""
    name = own_schedule(code_id)
    if not schedule_store.exists(c, site, name):
        return []
    schedule_store.delete(c, site, name)
    return [ScheduleDelete(key=name)]
