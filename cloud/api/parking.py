"""The cloud's HTTP API for parkings, spaces, tariffs and subscriptions (``/api/v1``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from cloud.api.deps import (
    BillingDep,
    ChangesDep,
    DatabaseDep,
    JobsDep,
    NotifierDep,
    ParkingDep,
    PresenceDep,
    SubscriptionsDep,
)
from cloud.api.limits import BULK_BODY_MAX
from cloud.api.parking_models import (
    DeactivateIn,
    DocumentsIn,
    ExtendIn,
    ExtendInApp,
    GateParkingIn,
    ImportIn,
    OwnerIn,
    ParkingIn,
    ParkingPatch,
    PayDebtIn,
    PresenceIn,
    ResidentIn,
    SpaceMoveIn,
    SpacePatch,
    SpacesIn,
    SubscriptionIn,
    TariffIn,
    UsersIn,
    VehicleIn,
)
from cloud.errors import ERROR_RESPONSES, CloudError, RowId
from cloud.parking import reports
from cloud.parking.payments import CALLBACK_BODY, raw_body, verified_callback
from cloud.parking.subscriptions import SubscriptionService
from cloud.refusals import Refusal
from cloud.staff import resident_of

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RAW_BODY = Depends(raw_body)


router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


def acting(subs: SubscriptionService, sid: str, request: Request, *, owner_only: bool) -> str:
    """Who acts on *sid*: staff, or the resident whose key asks (``subs.acting``)."""
    return subs.acting(sid, resident_of(request), owner_only=owner_only)


@router.post("/sites/{site}/parkings", status_code=201)
def add_parking(parking: ParkingDep, site: str, body: ParkingIn) -> dict[str, Any]:
    """A new parking of the site, created inactive."""
    return parking.add(site, body.id, body.model_dump(exclude={"id"}))


@router.get("/parkings/{pid}")
def get_parking(parking: ParkingDep, pid: str) -> dict[str, Any]:
    """A parking with its barriers."""
    return parking.get(pid)


@router.patch("/parkings/{pid}")
def patch_parking(parking: ParkingDep, pid: str, body: ParkingPatch) -> dict[str, Any]:
    """Change a parking's details."""
    return parking.update(pid, body.model_dump(exclude_none=True))


@router.delete("/parkings/{pid}")
def delete_parking(parking: ParkingDep, pid: str) -> dict[str, Any]:
    """Delete a parking whose subscriptions are all archived."""
    return {"deleted": pid, "rules_version": parking.delete(pid)}


@router.post("/parkings/{pid}/activate")
def activate(parking: ParkingDep, pid: str) -> dict[str, Any]:
    """Activate: refused unless its barriers let vehicles both in and out."""
    return parking.set_active(pid, True)


@router.post("/parkings/{pid}/deactivate")
def deactivate_parking(parking: ParkingDep, pid: str) -> dict[str, Any]:
    """Stop new entries (vehicles inside may still leave)."""
    return parking.set_active(pid, False)


@router.put("/sites/{site}/gates/{gate}/parking")
def link_gate(parking: ParkingDep, site: str, gate: str, body: GateParkingIn) -> dict[str, Any]:
    """Make a gate a barrier of a parking, or a society-perimeter gate again."""
    return {"site": site, "gate": gate, "parking": body.parking,
            "rules_version": parking.link_gate(site, gate, body.parking)}


@router.post("/parkings/{pid}/spaces", status_code=201)
def add_spaces(parking: ParkingDep, pid: str, body: SpacesIn) -> dict[str, Any]:
    """Add one space or a range."""
    return {"added": parking.add_spaces(pid, body.numbers, body.size, body.labels,
                                        body.rentable)}


@router.get("/parkings/{pid}/spaces")
def spaces(parking: ParkingDep, pid: str, request: Request) -> dict[str, Any]:
    """Spaces with status (available, available_until, unavailable) and tenant (staff
    only: residents see no one else's name)."""
    got = parking.spaces(pid)
    who = getattr(request.state, "principal", None)
    if who is not None and who.resident:
        got = [{**s, "tenant": None} for s in got]
    return {"spaces": got}


@router.patch("/parkings/{pid}/spaces/{number}")
def patch_space(parking: ParkingDep, pid: str, number: RowId, body: SpacePatch) -> dict[str, Any]:
    """Change a space (never its number)."""
    return parking.update_space(pid, number, body.model_dump(exclude_unset=True))


@router.post("/parkings/{pid}/tariffs", status_code=201)
def add_tariff(parking: ParkingDep, pid: str, body: TariffIn) -> dict[str, Any]:
    """A tariff band; overlapping bands of one set are refused."""
    return parking.add_tariff(pid, body.kind, body.unit, body.name, body.lower, body.upper,
                              body.price, body.size)


@router.get("/parkings/{pid}/tariffs")
def tariffs(parking: ParkingDep, pid: str) -> dict[str, Any]:
    """Every band of the parking."""
    return {"tariffs": parking.tariffs(pid)}


@router.delete("/tariffs/{tid}")
def delete_tariff(parking: ParkingDep, tid: RowId) -> dict[str, Any]:
    """Remove a tariff band."""
    parking.delete_tariff(tid)
    return {"deleted": tid}


@router.post("/parkings/{pid}/subscriptions", status_code=201)
def create(subs: SubscriptionsDep, pid: str, body: SubscriptionIn) -> dict[str, Any]:
    """Staff create a subscription: it starts now; its length comes from the amount."""
    return subs.create(pid, body.space, body.owner,
                       [v.model_dump() for v in body.vehicles], unit=body.unit,
                       amount=body.amount, units=body.units, camera=body.camera,
                       free=body.free, by=body.by, users=body.users,
                       documents=body.documents)


@router.post("/parkings/{pid}/subscriptions/resident", status_code=201)
def resident(subs: SubscriptionsDep, billing: BillingDep,
             pid: str, body: ResidentIn, request: Request) -> dict[str, Any]:
    """A resident rents a space in the app: a draft that holds the space 15 minutes, and
    the provider's payment to complete (``payment.pay_url``). A resident's key rents for
    itself only."""
    me = resident_of(request)
    if me is not None and body.owner not in subs.names(me):
        raise CloudError(403, Refusal.FORBIDDEN, "residents rent for themselves only")
    draft = subs.create(pid, body.space, body.owner,
                        [v.model_dump() for v in body.vehicles], unit=body.unit,
                        units=body.units, camera=body.camera, by=f"resident:{body.owner}",
                        resident=True, users=body.users, offer_accepted=body.offer_accepted,
                        for_resident=me is not None)
    return billing.start_payment(draft["id"])


@router.post("/payments/callback", openapi_extra=CALLBACK_BODY)
def payment_callback(billing: BillingDep,
                     request: Request, raw: bytes = RAW_BODY) -> dict[str, Any]:
    """The provider's signed word that a payment went through (idempotent): signed
    (Standard Webhooks) over the body's bytes as sent."""
    try:
        body = verified_callback(billing.payment_secret, raw, request.headers)
    except CloudError:
        billing.rejected_callbacks += 1
        raise
    if body.get("status") != "paid":
        return {"ignored": body.get("status")}
    return billing.confirm_payment(str(body["reference"]), int(body["amount"]),
                                str(body["payment_id"]))


@router.post("/parkings/{pid}/subscriptions/import", status_code=201,
             max_body_size=BULK_BODY_MAX)
def import_many(subs: SubscriptionsDep, pid: str, body: ImportIn) -> dict[str, Any]:
    """Many active subscriptions at once (moving from another system): one transaction."""
    return subs.import_many(pid, body.subscriptions, body.by)


@router.get("/parkings/{pid}/subscriptions")
def list_subs(subs: SubscriptionsDep, pid: str, status: str | None = None) -> dict[str, Any]:
    """Subscriptions of a parking, newest first."""
    return {"subscriptions": subs.list(pid, status)}


@router.get("/subscriptions/{sid}")
def get_sub(subs: SubscriptionsDep, sid: str, request: Request) -> dict[str, Any]:
    """A subscription: vehicles, payments, history, standing, debt now (residents: their
    own only)."""
    acting(subs, sid, request, owner_only=False)
    return subs.get(sid)


@router.put("/subscriptions/{sid}/users")
def users(changes: ChangesDep, subs: SubscriptionsDep, sid: str, body: UsersIn,
          request: Request) -> dict[str, Any]:
    """Who besides the owner may use an active or future subscription (residents: the
    owner only)."""
    return changes.set_users(sid, body.users, by=acting(subs, sid, request, owner_only=True))


@router.post("/subscriptions/{sid}/extend/resident", status_code=201)
def extend_in_app(subs: SubscriptionsDep, billing: BillingDep,
                  sid: str, body: ExtendInApp, request: Request) -> dict[str, Any]:
    """The owner or a user extends in the app: a draft after the chain's end that holds
    the space 15 minutes, and the provider's payment to complete (``payment.pay_url``)."""
    draft = subs.extend(sid, units=body.units, by=acting(subs, sid, request, owner_only=False),
                        resident=True, offer_accepted=body.offer_accepted)
    return billing.start_payment(draft["id"])


@router.post("/subscriptions/{sid}/extend", status_code=201)
def extend(subs: SubscriptionsDep, sid: str, body: ExtendIn) -> dict[str, Any]:
    """A future subscription that starts where this chain ends."""
    return subs.extend(sid, amount=body.amount, units=body.units, free=body.free,
                       by=body.by)


@router.post("/subscriptions/{sid}/deactivate")
def deactivate(billing: BillingDep, sid: str, body: DeactivateIn) -> dict[str, Any]:
    """Archive it and every later one of its chain; refund when allowed."""
    return billing.deactivate(sid, refund=body.refund, amount=body.amount, by=body.by)


@router.post("/subscriptions/{sid}/space")
def move(changes: ChangesDep, sid: str, body: SpaceMoveIn) -> dict[str, Any]:
    """Move to a free space."""
    return changes.change_space(sid, body.space)


@router.post("/subscriptions/{sid}/owner")
def owner(changes: ChangesDep, sid: str, body: OwnerIn) -> dict[str, Any]:
    """Hand it to another resident."""
    return changes.change_owner(sid, body.owner)


@router.post("/subscriptions/{sid}/documents")
def documents(changes: ChangesDep, sid: str, body: DocumentsIn) -> dict[str, Any]:
    """Attach payment documents to an active or future subscription."""
    return changes.attach_documents(sid, body.documents)


def owners_change(subs: SubscriptionService, sid: str, request: Request) -> str:
    """Who changes *sid*'s vehicles: staff, or its owner's resident key while it is active
    or future (the seed's editable ones)."""
    by = acting(subs, sid, request, owner_only=True)
    status = subs.row(sid)["status"]
    if by != "staff" and status not in ("active", "future"):
        raise CloudError(409, Refusal.NOT_EDITABLE, f"subscription {sid} is {status}")
    return by


@router.post("/subscriptions/{sid}/vehicles", status_code=201)
def add_vehicle(changes: ChangesDep, subs: SubscriptionsDep, sid: str, body: VehicleIn,
                request: Request) -> dict[str, Any]:
    """Add a vehicle (staff, or the owner in the app)."""
    return changes.add_vehicle(sid, body.model_dump(), by=owners_change(subs, sid, request))


@router.delete("/subscriptions/{sid}/vehicles/{vrn}")
def remove_vehicle(changes: ChangesDep, subs: SubscriptionsDep, sid: str, vrn: str,
                   request: Request) -> dict[str, Any]:
    """Remove a vehicle, not the last (staff, or the owner in the app)."""
    return changes.remove_vehicle(sid, vrn, by=owners_change(subs, sid, request))


@router.post("/subscriptions/{sid}/pay-debt")
def pay_debt(billing: BillingDep, sid: str, body: PayDebtIn) -> dict[str, Any]:
    """Record the debt's payment: repaid, with a day (or an hour) to leave."""
    return billing.pay_debt(sid, body.reference, body.by)


@router.put("/parkings/{pid}/presence/{vrn}")
def presence(presence: PresenceDep, pid: str, vrn: str, body: PresenceIn) -> dict[str, Any]:
    """Staff correct whether a vehicle is inside."""
    return presence.set_presence(pid, vrn, body.inside, by=body.by)


@router.get("/reports/subscriptions.xlsx")
def report_subscriptions(parking: ParkingDep, db: DatabaseDep, parkings: str,
                         created_from: datetime | None = None,
                         created_to: datetime | None = None) -> Response:
    """Subscriptions of the chosen parkings (comma-separated) by creation date, as Excel."""
    ids = [p for p in parkings.split(",") if p]
    for pid in ids:
        parking.exists(pid)
    data = reports.subscriptions_xlsx(db, ids, created_from, created_to)
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": 'attachment; filename="subscriptions.xlsx"'})


@router.get("/reports/occupancy.xlsx")
def report_occupancy(parking: ParkingDep, db: DatabaseDep, parking_id: str = Query(alias="parking"),
                     since: datetime | None = None,
                     until: datetime | None = None) -> Response:
    """The space occupancy log of a parking, as Excel."""
    parking.exists(parking_id)
    data = reports.occupancy_xlsx(db, parking_id, since, until)
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": 'attachment; filename="occupancy.xlsx"'})


@router.post("/jobs/notifications")
def deliver(notifier: NotifierDep) -> dict[str, Any]:
    """Look for expiring subscriptions and deliver pending notifications now."""
    warned = notifier.scan_expiry()
    return {"queued": warned, **notifier.deliver(), "pending": notifier.pending()}


@router.post("/jobs/fastag-recheck")
def fastag_recheck(jobs: JobsDep) -> dict[str, Any]:
    """Re-check every FITkit binding against the FASTag registry now (the daily job)."""
    return {"rechecked": jobs.run_fastag()}


@router.post("/jobs/transitions")
def transitions(jobs: JobsDep) -> dict[str, Any]:
    """Run the status job now (it also runs on a schedule)."""
    return {"moved": jobs.run_transitions()}

