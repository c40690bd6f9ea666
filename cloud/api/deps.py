"""What the routes depend on: the cloud's services, built once by ``cloud.app.create_app``
into one :class:`Services` that the app holds (``app.state.services``), and a FastAPI
dependency per service that reads it from the request's app.

A route names what it needs in its signature, ``parking: Parkings``; the routers are
module-level and hold no service themselves, so they are built once per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from cloud.codes import Codes
from cloud.codes.holders import CodeHolders
from cloud.codes.walkins import WalkIns
from cloud.fleet import Fleet
from cloud.ingest.mqtt import CloudMqtt
from cloud.jobs import Jobs
from cloud.ledger import Ledger
from cloud.metrics import CloudMetrics
from cloud.notify import Notifier
from cloud.parking.billing import Billing
from cloud.parking.cameras import Cameras
from cloud.parking.changes import SubscriptionChanges
from cloud.parking.presence import Presence
from cloud.parking.service import ParkingService
from cloud.parking.subscriptions import SubscriptionService
from cloud.partners.links import PartnerLinks
from cloud.people.activation import Activation
from cloud.people.residents import Residents
from cloud.people.vehicle_tags import VehicleTags
from cloud.settings import CloudSettings
from cloud.society.accounts import Accounts
from cloud.society.inventory import Inventory
from cloud.society.rules import RulesService
from cloud.society.schedules import Schedules
from cloud.staff import Staff
from cloud.storage import Database
from shared.clock import Clock


@dataclass(frozen=True, slots=True)
class Services:
    """Every collaborator of one cloud app, built once, in dependency order."""

    settings: CloudSettings
    clock: Clock
    db: Database
    ledger: Ledger
    link: CloudMqtt | None  # None without a broker
    metrics: CloudMetrics
    rejected: dict[str, int]  # API requests refused as malformed: {"requests": n}
    notifier: Notifier
    fleet: Fleet
    staff: Staff
    rules: RulesService
    accounts: Accounts
    stickers: Inventory
    schedules: Schedules
    parking: ParkingService
    cameras: Cameras
    subscriptions: SubscriptionService
    changes: SubscriptionChanges
    billing: Billing
    presence: Presence
    jobs: Jobs
    codes: Codes
    holders: CodeHolders
    walkins: WalkIns
    residents: Residents
    activation: Activation
    vehicle_tags: VehicleTags
    partner_links: PartnerLinks


def services(request: Request) -> Services:
    """The services of the app that serves *request*."""
    got: Services = request.app.state.services
    return got


def _settings(request: Request) -> CloudSettings:
    return services(request).settings


def _clock(request: Request) -> Clock:
    return services(request).clock


def _db(request: Request) -> Database:
    return services(request).db


def _link(request: Request) -> CloudMqtt | None:
    return services(request).link


def _metrics(request: Request) -> CloudMetrics:
    return services(request).metrics


def _rejected(request: Request) -> dict[str, int]:
    return services(request).rejected


def _notifier(request: Request) -> Notifier:
    return services(request).notifier


def _fleet(request: Request) -> Fleet:
    return services(request).fleet


def _staff(request: Request) -> Staff:
    return services(request).staff


def _rules(request: Request) -> RulesService:
    return services(request).rules


def _accounts(request: Request) -> Accounts:
    return services(request).accounts


def _stickers(request: Request) -> Inventory:
    return services(request).stickers


def _schedules(request: Request) -> Schedules:
    return services(request).schedules


def _parking(request: Request) -> ParkingService:
    return services(request).parking


def _cameras(request: Request) -> Cameras:
    return services(request).cameras


def _subscriptions(request: Request) -> SubscriptionService:
    return services(request).subscriptions


def _changes(request: Request) -> SubscriptionChanges:
    return services(request).changes


def _billing(request: Request) -> Billing:
    return services(request).billing


def _presence(request: Request) -> Presence:
    return services(request).presence


def _jobs(request: Request) -> Jobs:
    return services(request).jobs


def _codes(request: Request) -> Codes:
    return services(request).codes


def _holders(request: Request) -> CodeHolders:
    return services(request).holders


def _walkins(request: Request) -> WalkIns:
    return services(request).walkins


def _residents(request: Request) -> Residents:
    return services(request).residents


def _activation(request: Request) -> Activation:
    return services(request).activation


def _vehicle_tags(request: Request) -> VehicleTags:
    return services(request).vehicle_tags


def _partner_links(request: Request) -> PartnerLinks:
    return services(request).partner_links


SettingsDep = Annotated[CloudSettings, Depends(_settings)]
ClockDep = Annotated[Clock, Depends(_clock)]
DatabaseDep = Annotated[Database, Depends(_db)]
LinkDep = Annotated[CloudMqtt | None, Depends(_link)]
MetricsDep = Annotated[CloudMetrics, Depends(_metrics)]
RejectedDep = Annotated[dict[str, int], Depends(_rejected)]
NotifierDep = Annotated[Notifier, Depends(_notifier)]
FleetDep = Annotated[Fleet, Depends(_fleet)]
StaffDep = Annotated[Staff, Depends(_staff)]
RulesDep = Annotated[RulesService, Depends(_rules)]
AccountsDep = Annotated[Accounts, Depends(_accounts)]
StickersDep = Annotated[Inventory, Depends(_stickers)]
SchedulesDep = Annotated[Schedules, Depends(_schedules)]
ParkingDep = Annotated[ParkingService, Depends(_parking)]
CamerasDep = Annotated[Cameras, Depends(_cameras)]
SubscriptionsDep = Annotated[SubscriptionService, Depends(_subscriptions)]
ChangesDep = Annotated[SubscriptionChanges, Depends(_changes)]
BillingDep = Annotated[Billing, Depends(_billing)]
PresenceDep = Annotated[Presence, Depends(_presence)]
JobsDep = Annotated[Jobs, Depends(_jobs)]
CodesDep = Annotated[Codes, Depends(_codes)]
HoldersDep = Annotated[CodeHolders, Depends(_holders)]
WalkInsDep = Annotated[WalkIns, Depends(_walkins)]
ResidentsDep = Annotated[Residents, Depends(_residents)]
ActivationDep = Annotated[Activation, Depends(_activation)]
VehicleTagsDep = Annotated[VehicleTags, Depends(_vehicle_tags)]
PartnerLinksDep = Annotated[PartnerLinks, Depends(_partner_links)]
