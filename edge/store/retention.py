"""What the box keeps on disk, pruned while it runs (at start, then every 5 minutes).

- The event log's acknowledged history past ``api.journal_days``, and past
  ``cloud.queue_max_mb`` (``Outbox.prune_journal``); unsent events are never dropped.
- Evidence photos past ``evidence.max_days`` (and past ``evidence.max_mb`` as they are saved).
- The free-space floor (``disk.min_free_mb``) of the data directory's filesystem: below it,
  evidence goes first, oldest first, then acknowledged history, until the floor is met or only
  unsent events and no photos are left. While still below, the box says so: ``disk.low`` in
  its health, ``gatepost_edge_disk_low`` in its metrics, a line on the panel's Alerts, and an
  ERROR in its log when it happens.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from edge.store.evidence import EvidenceStore
from edge.store.outbox import Outbox
from shared.clock import Clock
from shared.counters import Counters

log = logging.getLogger(__name__)
MB = 2**20


@dataclass
class DiskState:
    """The data directory's disk after the last pruning."""

    free_bytes: int = 0
    floor_bytes: int = 0
    low: bool = False


class Retention:
    """One pruning pass at a time, from the daemon's housekeeping thread."""

    def __init__(self, outbox: Outbox, evidence: EvidenceStore, clock: Clock, data_dir: Path,
                 *, journal_days: int, evidence_days: int, min_free_mb: int,
                 counters: Counters) -> None:
        self.outbox, self.evidence, self.clock = outbox, evidence, clock
        self.data_dir = Path(data_dir)
        self.journal_days, self.evidence_days = journal_days, evidence_days
        self.counters = counters
        self.disk = DiskState(floor_bytes=min_free_mb * MB)

    def free_bytes(self) -> int:
        """Free bytes on the data directory's filesystem (for this user)."""
        return int(shutil.disk_usage(self.data_dir).free)

    def run(self) -> dict[str, int]:
        """Prune by age, by the log's bound and by the floor; what went."""
        out = {"events": self.outbox.prune_journal(
            self.clock.now() - timedelta(days=self.journal_days))}
        out["photos"], _ = self.evidence.prune(older_than_s=self.evidence_days * 86400)
        free = self.free_bytes()
        if free < self.disk.floor_bytes:
            removed, _ = self.evidence.prune(free_bytes=self.disk.floor_bytes - free)
            out["photos"] += removed
            free = self.free_bytes()
            while free < self.disk.floor_bytes and (got := self.outbox.drop_history()):
                out["events"] += got
                free = self.free_bytes()
        self._state(free)
        return out

    def _state(self, free: int) -> None:
        low = free < self.disk.floor_bytes
        if low and not self.disk.low:
            self.counters.inc("disk_floor_reached")
            log.error("the data disk has %d MB free, under the floor of %d MB, with evidence and "
                      "acknowledged history pruned: only unsent events are kept", free // MB,
                      self.disk.floor_bytes // MB)
        elif self.disk.low and not low:
            log.info("the data disk is back over its floor (%d MB free)", free // MB)
        self.disk = DiskState(free, self.disk.floor_bytes, low)
