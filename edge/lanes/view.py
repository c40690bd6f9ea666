"""The view of the cache that ``decide()`` reads, the vehicle a lane shows in front of it,
and the pass a lane records.

``LaneView`` answers from the SQLite cache and presence; ``of(window)`` adds the lane's own
window (the credentials of the vehicle at the gate now) for fusion, without copying anything.
``InFront`` is what the guard's Live card shows of the vehicle at the gate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from edge.core.direction import effective_direction
from edge.core.lane import Window
from edge.core.parking import SubRecord, area_key, inside_area
from edge.core.plate_match import PlateIndex
from edge.core.types import CodeRecord, CodeSettings, GateInfo, RecentCredential, TagRecord
from edge.store.cache import Presence, RulesCache
from shared.schedule import Schedule
from shared.vocab import Direction
from shared.wire.events import PassData


class LaneView:
    """The cache, presence and plate allowlists as ``edge.core.types.CacheView``."""

    def __init__(self, cache: RulesCache, presence: Presence,
                 plate_index: Callable[[str], PlateIndex], site_of_gate: dict[str, str],
                 window: Window | None = None) -> None:
        self._cache, self._presence, self._plate_index = cache, presence, plate_index
        self._site_of_gate = site_of_gate
        self._window = window or Window()

    def of(self, window: Window) -> LaneView:
        """The same view, with a lane's window for ``recent``."""
        return LaneView(self._cache, self._presence, self._plate_index, self._site_of_gate,
                        window)

    def parking_of(self, gate_id: str) -> tuple[str, bool] | None:
        site = self._site_of_gate.get(gate_id)
        return self._cache.parking_of(site, gate_id) if site else None

    def subscriptions(self, parking: str, vrn: str) -> list[SubRecord]:
        return self._cache.subscriptions(parking, vrn)

    def recent(self, gate_id: str, kind: str) -> RecentCredential | None:
        return self._window.of(kind)

    def vehicle_tags(self, vrn: str) -> list[TagRecord]:
        return self._cache.tags_of(vrn)

    def plate_index(self, site: str) -> PlateIndex:
        return self._plate_index(site)

    def tag(self, epc: str) -> TagRecord | None:
        return self._cache.tag(epc)

    def code_settings(self, site: str) -> CodeSettings | None:
        return self._cache.code_settings(site)

    def code(self, site: str, digest: str) -> CodeRecord | None:
        return self._cache.code(site, digest)

    def is_inside(self, vrn: str) -> bool | None:
        return self._presence.is_inside(vrn)

    def vehicle_schedule(self, site: str, vrn: str) -> str | None:
        return self._cache.vehicle_schedule(site, vrn)

    def schedule(self, site: str, name: str) -> Schedule | None:
        return self._cache.schedule(site, name)


@dataclass(frozen=True, slots=True)
class PassEvent:
    """A pass's event data, and the presence it flips (``area`` None: not attributed)."""

    data: PassData
    area: str | None
    entering: bool


def pass_event(gate: GateInfo, view: LaneView, awaiting: tuple[str | None, datetime, str] | None,
               now: datetime, window: timedelta) -> PassEvent:
    """The pass of the vehicle the gate last opened for, if it came within *window*."""
    vrn, decision_id = None, None
    if awaiting and now - awaiting[1] <= window:
        vrn, decision_id = awaiting[0], awaiting[2]
    parking = view.parking_of(gate.id)
    pid = parking[0] if parking else None
    direction = gate.direction
    if vrn is not None:
        direction = effective_direction(gate, inside_area(view.is_inside, pid, vrn))
    data = PassData(vrn=vrn, decision=decision_id, direction=direction,
                    attributed=vrn is not None, parking=pid)
    return PassEvent(data, area_key(pid, vrn) if vrn is not None else None,
                     direction is Direction.ENTRY)


@dataclass(frozen=True, slots=True)
class InFront:
    """The vehicle in front of the gate as the lane last decided it, and when the credential
    that decided it was last read (every read of it still arriving, duplicates included)."""

    data: dict[str, Any]  # the decision's payload, as the panel shows it
    key: str  # the credential that decided it ("" for a guard's or a remote open)
    decided_at: datetime
    seen_at: datetime

    def seen(self, key: str, now: datetime) -> InFront:
        """The same vehicle if *key* is its credential, read again at *now*."""
        return replace(self, seen_at=now) if key and key == self.key else self

    def there(self, now: datetime, pass_window_s: float, hold_s: float) -> bool:
        """Whether it can still be at the gate: decided within the pass window (a car let
        through is on its way), or its credential read within the de-dup hold (a refused car
        waits as long as it likes; its tag or plate stops being read when it leaves)."""
        return (now - self.decided_at <= timedelta(seconds=pass_window_s)
                or now - self.seen_at <= timedelta(seconds=hold_s))

    def as_dict(self) -> dict[str, Any]:
        """The decision's payload with when its credential was last read."""
        return {**self.data, "seen_at": self.seen_at.isoformat()}
