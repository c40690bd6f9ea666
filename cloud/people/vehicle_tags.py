"""What a resident does with their vehicle's tag from the app: lock it (the gate denies its
exit at once, ``tag_locked``, while entry stays allowed), unlock it, and report it lost (the tag
is blocked everywhere at once; a new sticker then replaces it: ``Activation.activate`` with
``replace``). A resident acts on their own vehicles and on those of the flats they live in, so a
lock by one resident of a flat is visible to, and may be lifted by, the others; staff see who
locked and when (``locked_by``, ``locked_at`` in ``GET /api/v1/tags/{epc}``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cloud.errors import CloudError
from cloud.ledger import Ledger
from cloud.refusals import Refusal
from cloud.society.rules import tag_rule
from cloud.storage import Database, Row, Tx, residents, society
from cloud.storage.staff import write_audit
from shared import vrn as vrn_rules
from shared.clock import Clock
from shared.contract import Change, TagUpsert
from shared.vocab import TagStatus


def vehicle_of(c: Tx, resident: str, vrn: str) -> Row:
    """The vehicle *vrn* if it is the resident's or their flat's, at a society they live in,
    else ``unknown_vehicle``. (A vehicle becomes a resident's only with proof or staff's word:
    ``cloud.people.claims``.)"""
    plate = vrn_rules.normalise(vrn)
    for v in residents.flat_vehicles(c, resident):
        if v["vrn"] == plate:
            return v
    for v in residents.vehicles(c, resident):
        if v["vrn"] == plate and residents.lives_in(c, resident, v["site"]):
            return v
    raise CloudError(404, Refusal.UNKNOWN_VEHICLE,
                     f"{plate} is not a vehicle of yours or your flat")


class VehicleTags:
    """Lock, unlock and report lost, for a resident."""

    def __init__(self, db: Database, clock: Clock, ledger: Ledger) -> None:
        self.db = db
        self.clock = clock
        self.ledger = ledger

    def _on_tags(self, resident: str, vrn: str, statuses: tuple[str, ...], what: str,
                 **fields: Any) -> dict[str, Any]:
        with self.db.read() as c:
            v = vehicle_of(c, resident, vrn)
        site, plate = v["site"], v["vrn"]

        def fn(c: Tx) -> list[Change]:
            tags = [t for t in society.site_tags_of_vehicle(c, site, plate)
                    if t["status"] in statuses]
            if not tags:
                raise CloudError(409, Refusal.NO_VALID_TAG, f"{plate} has no active tag")
            at = self.clock.now().isoformat()
            out: list[Change] = []
            for t in tags:
                society.update_tag(c, t["epc"], at, **fields)
                row = society.tag(c, t["epc"])
                assert row is not None
                out.append(TagUpsert(tag=tag_rule(row)))
            write_audit(c, at, None, f"resident:{resident}", "POST",
                        f"/api/v1/me/vehicles/{plate}/{what}", 200,
                        f"{what} {', '.join(t['epc'] for t in tags)}")
            return out

        delta = self.ledger.change(site, fn)
        return {"site": site, "vrn": plate, what: True, "rules_version": delta.to_version}

    def lock(self, resident: str, vrn: str, until: datetime | None) -> dict[str, Any]:
        """Lock the vehicle's active tags (until *until*, if given)."""
        if until is not None and until <= self.clock.now():
            raise CloudError(422, Refusal.BAD_UNTIL, "a lock ends in the future")
        return self._on_tags(resident, vrn, (TagStatus.ACTIVE.value,), "lock", locked=1,
                             locked_until=until.isoformat() if until else None,
                             locked_by=f"resident:{resident}",
                             locked_at=self.clock.now().isoformat())

    def unlock(self, resident: str, vrn: str) -> dict[str, Any]:
        """Unlock the vehicle's active tags at once."""
        return self._on_tags(resident, vrn, (TagStatus.ACTIVE.value,), "unlock", locked=0,
                             locked_until=None, locked_by=None, locked_at=None)

    def report_lost(self, resident: str, vrn: str) -> dict[str, Any]:
        """Block the vehicle's active tags: lost or stolen, denied everywhere at once."""
        return self._on_tags(resident, vrn, (TagStatus.ACTIVE.value,), "lost",
                             status=TagStatus.BLOCKED.value)

    def overview(self, resident: str) -> list[dict[str, Any]]:
        """The vehicles of the resident and of their flats, each with its tags and locks (who
        locked and when): what the app shows on its vehicles page."""
        c = self.db.conn
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for v in [*residents.vehicles(c, resident), *residents.flat_vehicles(c, resident)]:
            key = (v["site"], v["vrn"])
            if key in seen:
                continue
            row = society.vehicle(c, v["site"], v["vrn"])
            tags = society.site_tags_of_vehicle(c, v["site"], v["vrn"])
            seen[key] = {"site": v["site"], "vrn": v["vrn"], "flat": v["flat"],
                         "mine": bool(row and row["resident"] == resident),
                         "tags": [{k: t[k] for k in ("epc", "status", "locked_until",
                                                     "locked_by", "locked_at")}
                                  | {"locked": bool(t["locked"])} for t in tags]}
        return list(seen.values())
