"""Whose a vehicle is: a resident makes a registered vehicle theirs only with proof.

A vehicle a resident names stands to them in one of four ways (``standing``): ``new`` (not
registered at the society: it becomes theirs), ``mine`` (theirs already, or registered by staff
to a flat of theirs), ``another`` (another resident's: ``vehicle_of_another_resident``) or
``unproven`` (registered without a resident, to no flat of theirs: every vehicle from before
residents existed). An unproven vehicle becomes theirs with the secret of the sticker on it
(checked within the guessing limits of ``cloud.people.guesses``, like an activation), or once
staff confirm the claim the request files instead (202, ``pending``). A claim confirmed, or
proven, moves the vehicle to the resident's flat, and any other pending claim of it is refused.

Refusals: ``vehicle_of_another_resident``, ``secret_mismatch`` (no sticker of the vehicle has
that secret), ``too_many_attempts``, ``unknown_claim``, ``claim_settled`` (confirmed, refused or
cancelled already), ``not_a_resident_here`` (the claimant left the society meanwhile).
"""

from __future__ import annotations

from typing import Any

from cloud.errors import CloudError
from cloud.ledger import Ledger
from cloud.people import guesses
from cloud.people.registry import VehicleDetails
from cloud.refusals import Refusal
from cloud.society.rules import vehicle_rule
from cloud.storage import Database, Row, Tx, inventory, residents, society
from cloud.storage.staff import write_audit
from shared.clock import Clock
from shared.contract import Change, VehicleUpsert
from shared.vocab import TagStatus


def standing(c: Tx, site: str, resident: str, vrn: str) -> str:
    """How the vehicle *vrn* of *site* stands to the resident: new, mine, another, unproven."""
    row = society.vehicle(c, site, vrn)
    if row is None:
        return "new"
    if row["resident"] == resident:
        return "mine"
    if row["resident"] is not None:
        return "another"
    return "mine" if row["flat"] in residents.flats_at(c, resident, site) else "unproven"


def refuse_unless_mine(c: Tx, site: str, resident: str, vrn: str) -> None:
    """Refuse acting on a registered vehicle that is not the resident's (nor their flat's)."""
    st = standing(c, site, resident, vrn)
    if st == "another":
        raise CloudError(409, Refusal.VEHICLE_OF_ANOTHER_RESIDENT,
                         f"{vrn} is registered to another "
                         "resident of this society: ask the society's office")
    if st == "unproven":
        raise CloudError(409, Refusal.VEHICLE_NOT_YOURS,
                         f"{vrn} is registered at this society, not "
                         "to you: add it in the app with the secret of its sticker, or let the "
                         "office confirm it is yours")


def take_vehicle(c: Tx, site: str, resident: str, car: VehicleDetails, at: str) -> Change:
    """Register the vehicle at *site* as the resident's, in their flat (moved there from
    another flat's, or from none)."""
    flats = residents.flats_at(c, resident, site)
    row = society.vehicle(c, site, car.vrn)
    if row is None:
        society.insert_vehicle(c, site, car.vrn, car.type, flats[0] if flats else None, at)
    elif row["flat"] not in flats:
        residents.set_vehicle_flat(c, site, car.vrn, flats[0] if flats else None)
    residents.set_vehicle_owner(c, site, car.vrn, resident, car.make, car.model)
    taken = society.vehicle(c, site, car.vrn)
    assert taken is not None
    return VehicleUpsert(vehicle=vehicle_rule(taken))


def stickers_on(c: Tx, site: str, vrn: str) -> list[Row]:
    """The stickers of the vehicle's active tags (a tag from before stickers has none)."""
    out = []
    for t in society.site_tags_of_vehicle(c, site, vrn):
        if t["status"] == TagStatus.ACTIVE.value and \
                (sticker := inventory.by_epc(c, t["epc"])) is not None:
            out.append(sticker)
    return out


def _claim(row: Row) -> dict[str, Any]:
    return dict(row)


class VehicleClaims:
    """A resident's claim of a registered vehicle, and staff's answer to it."""

    def __init__(self, db: Database, clock: Clock, ledger: Ledger) -> None:
        self.db = db
        self.clock = clock
        self.ledger = ledger

    def add(self, resident: str, site: str, car: VehicleDetails, secret: str | None,
            source: str) -> tuple[int, dict[str, Any]]:
        """The resident's vehicle at *site*: registered as theirs at once (201) when it is new
        there, theirs already, or proven by *secret*; else a pending claim for staff (202)."""
        with self.db.read() as c:
            st = standing(c, site, resident, car.vrn)
            stickers = stickers_on(c, site, car.vrn) if st == "unproven" else []
        proven = False
        if st == "unproven" and secret is not None:
            budgets = guesses.keys(resident, source, [s["tag_id"] for s in stickers], False)
            proven = guesses.attempt(self.db, budgets, self.clock.now(), secret,
                                     [s["secret_hash"] for s in stickers])
            if not proven:
                self._wrong(resident, car.vrn)
                raise CloudError(403, Refusal.SECRET_MISMATCH, "the secret code matches no sticker "
                                 f"on {car.vrn}: type the code of the sticker on the vehicle")
        if st == "unproven" and not proven:
            at = self.clock.now().isoformat()
            with self.db.write() as c:
                claim = residents.add_claim(c, site, car.vrn, resident, at)
            return 202, {"site": site, "vrn": car.vrn, "status": "pending",
                         "claim": _claim(claim)}

        def fn(c: Tx) -> list[Change]:
            now_st = standing(c, site, resident, car.vrn)
            if now_st == "another" or (now_st == "unproven" and not proven):
                refuse_unless_mine(c, site, resident, car.vrn)
            at = self.clock.now().isoformat()
            change = take_vehicle(c, site, resident, car, at)
            if proven:
                residents.close_other_claims(c, site, car.vrn, at, f"resident:{resident}")
            return [change]

        delta = self.ledger.change(site, fn)
        return 201, {"site": site, "vrn": car.vrn, "type": car.type, "make": car.make,
                     "model": car.model, "rules_version": delta.to_version}

    def _wrong(self, resident: str, vrn: str) -> None:
        with self.db.write() as c:
            write_audit(c, self.clock.now().isoformat(), None, f"resident:{resident}", "POST",
                        "/api/v1/me/vehicles", 403, f"secret_mismatch: claim of {vrn}")

    # Staff --------------------------------------------------------------------------------
    def of_site(self, site: str, status: str | None) -> list[dict[str, Any]]:
        """A site's claims (of one status, if given), oldest first."""
        with self.db.read() as c:
            if not society.site_exists(c, site):
                raise CloudError(404, Refusal.UNKNOWN_SITE, f"site {site!r} does not exist")
            return [_claim(r) for r in residents.claims(c, site=site, status=status)]

    def of_resident(self, resident: str) -> list[dict[str, Any]]:
        """A resident's claims, oldest first."""
        with self.db.read() as c:
            return [_claim(r) for r in residents.claims(c, resident=resident)]

    def _pending(self, c: Tx, site: str, claim_id: int) -> Row:
        row = residents.claim(c, site, claim_id)
        if row is None:
            raise CloudError(404, Refusal.UNKNOWN_CLAIM, f"site {site} has no claim {claim_id}")
        if row["status"] != "pending":
            raise CloudError(409, Refusal.CLAIM_SETTLED, f"claim {claim_id} is {row['status']}")
        return row

    def confirm(self, site: str, claim_id: int, by: str) -> dict[str, Any]:
        """Staff confirm a claim: the vehicle is the claimant's, in their flat, at once."""
        def fn(c: Tx) -> list[Change]:
            row = self._pending(c, site, claim_id)
            who = residents.get(c, row["resident"])
            if who is None or who["removed_at"] or not residents.lives_in(c, who["id"], site):
                raise CloudError(409, Refusal.NOT_A_RESIDENT_HERE,
                                 f"resident {row['resident']} has "
                                 f"no flat at {site} any more")
            v = society.vehicle(c, site, row["vrn"])
            if v is None:
                raise CloudError(404, Refusal.UNKNOWN_VEHICLE, f"{row['vrn']} is no longer "
                                 f"registered at {site}")
            if v["resident"] not in (None, who["id"]):
                raise CloudError(409, Refusal.VEHICLE_OF_ANOTHER_RESIDENT, f"{row['vrn']} is "
                                 "another resident's now")
            at = self.clock.now().isoformat()
            car = VehicleDetails(v["vrn"], v["type"], v["make"], v["model"])
            change = take_vehicle(c, site, who["id"], car, at)
            residents.decide_claim(c, claim_id, "confirmed", at, by, "")
            residents.close_other_claims(c, site, v["vrn"], at, by)
            return [change]

        delta = self.ledger.change(site, fn)
        with self.db.read() as c:
            row = residents.claim(c, site, claim_id)
        assert row is not None
        return _claim(row) | {"rules_version": delta.to_version}

    def refuse(self, site: str, claim_id: int, by: str, note: str) -> dict[str, Any]:
        """Staff refuse a claim: the vehicle stays as it was."""
        with self.db.write() as c:
            self._pending(c, site, claim_id)
            residents.decide_claim(c, claim_id, "refused", self.clock.now().isoformat(), by,
                                   note)
            row = residents.claim(c, site, claim_id)
        assert row is not None
        return _claim(row)
