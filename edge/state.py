"""What the daemon holds per lane, and the view of its cache that ``decide()`` reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from edge.adapters.relay import GateInputs
from edge.config import GateConfig
from edge.core.parking import SubRecord
from edge.core.plate_match import PlateIndex
from edge.core.types import GateInfo, RecentCredential, TagRecord
from edge.store.cache import Presence, RulesCache


class CacheView:
    """The CacheView that decide() reads: SQLite cache, presence, and recent reads."""

    def __init__(self, cache: RulesCache, presence: Presence,
                 seen: dict[tuple[str, str], datetime],
                 recent: dict[tuple[str, str], RecentCredential],
                 plate_index: Callable[[str], PlateIndex],
                 site_of_gate: dict[str, str] | None = None) -> None:
        self._cache, self._presence, self._seen = cache, presence, seen
        self._recent, self._plate_index = recent, plate_index
        self._site_of_gate = site_of_gate or {}

    def parking_of(self, gate_id: str) -> tuple[str, bool] | None:
        site = self._site_of_gate.get(gate_id)
        return self._cache.parking_of(site, gate_id) if site else None

    def subscriptions(self, parking: str, vrn: str) -> list[SubRecord]:
        return self._cache.subscriptions(parking, vrn)

    def recent(self, gate_id: str, kind: str) -> RecentCredential | None:
        return self._recent.get((gate_id, kind))

    def vehicle_tags(self, vrn: str) -> list[TagRecord]:
        return self._cache.tags_of(vrn)

    def plate_index(self, site: str) -> PlateIndex:
        return self._plate_index(site)

    def tag(self, epc: str) -> TagRecord | None:
        return self._cache.tag(epc)

    def is_inside(self, vrn: str) -> bool | None:
        return self._presence.is_inside(vrn)

    def last_seen(self, gate_id: str, credential_key: str) -> datetime | None:
        return self._seen.get((gate_id, credential_key))


class GateState:
    """What the daemon knows of one lane right now."""

    def __init__(self, cfg: GateConfig) -> None:
        self.cfg = cfg
        self.info = GateInfo(cfg.id, cfg.site, cfg.direction, cfg.credentials, cfg.mismatch)
        self.inputs: GateInputs | None = None
        self.relay_ok: bool | None = None
        self.reader_ok: bool | None = None
        self.awaiting_pass: tuple[str | None, datetime, str] | None = None  # vrn, at, event id
        self.confirm_open: tuple[float, str] | None = None  # monotonic deadline, decision id

    def as_dict(self) -> dict[str, Any]:
        i = self.inputs
        return {
            "id": self.cfg.id, "site": self.cfg.site, "direction": self.cfg.direction.value,
            "loop": i.loop if i else None, "open_limit": i.open_limit if i else None,
            "closed_limit": i.closed_limit if i else None,
            "relay_ok": self.relay_ok, "reader_ok": self.reader_ok,
        }
