"""The cloud's services, built once from the settings in the order they depend on each other:
every collaborator gets what it needs through its constructor, and nothing is set on a built
object afterwards. ``cloud.app.create_app`` builds them, then the app around them."""

from __future__ import annotations

from cloud.api.deps import Services
from cloud.codes import Codes
from cloud.codes.holders import CodeHolders
from cloud.codes.renewal import Renewals
from cloud.codes.walkins import WalkIns
from cloud.fleet import Fleet
from cloud.ingest.mqtt import CloudMqtt
from cloud.ingest.reactions import Reaction
from cloud.jobs import Jobs
from cloud.ledger import Ledger
from cloud.metrics import CloudMetrics
from cloud.notify import Channels, Notifier
from cloud.outbound import Targets, networks
from cloud.parking.billing import Billing
from cloud.parking.cameras import Cameras
from cloud.parking.changes import SubscriptionChanges
from cloud.parking.payments import HttpProvider
from cloud.parking.presence import Presence
from cloud.parking.service import ParkingService
from cloud.parking.subscriptions import SubscriptionService
from cloud.partners.client import HttpPartners
from cloud.partners.forward import Forwarder, enqueue
from cloud.partners.links import PartnerLinks
from cloud.people.activation import Activation
from cloud.people.fastag import FastagBindings
from cloud.people.registry import HttpFastagRegistry, HttpVehicleRegistry
from cloud.people.residents import Residents
from cloud.people.vehicle_tags import VehicleTags
from cloud.settings import CloudSettings
from cloud.society.accounts import Accounts
from cloud.society.inventory import Inventory
from cloud.society.rules import RulesService
from cloud.society.schedules import Schedules
from cloud.staff import Staff
from cloud.storage import open_durable
from shared.clock import Clock
from shared.contract import RulesDelta
from shared.counters import Counters


def channels_of(settings: CloudSettings) -> Channels:
    """Where notifications go, from the settings."""
    smtp = settings.smtp
    host, _, port = smtp.rpartition(":") if ":" in smtp else (smtp, "", "25")
    return Channels(webhook_url=settings.webhook_url,
                    webhook_secret=settings.secret("webhook_secret") or "", smtp_host=host,
                    smtp_port=int(port or 25), mail_from=settings.mail_from)


def reactions_to_stored_events(jobs: Jobs, codes: Codes, walkins: WalkIns
                               ) -> tuple[Reaction, ...]:
    """What follows a stored event, each queued in the transaction that stores it and done
    by one process at a time, with retries (``cloud.ingest.reactions``)."""
    return (Reaction("parking", jobs.pass_lane, jobs.on_event),  # a presence flipped
            Reaction("barrier", jobs.alert_lane, jobs.on_event),  # staff told
            Reaction("code", codes.lane, codes.on_event),  # a pass spent, a code activated
            Reaction("walkin", walkins.lane, walkins.on_event))  # a visitor went in


# Other steps of the storing transaction: a connected vehicle's pass queued for its partner app.
IN_STORING_TX = (enqueue,)


def build_services(settings: CloudSettings, clock: Clock) -> Services:
    """Every service of one cloud process, over the database the settings name."""
    db = open_durable(settings.database(), allow_async_commit=settings.allow_async_commit)
    counters = Counters()  # the process's: ingest, fleet and jobs count into it
    notifier = Notifier(db, clock, channels_of(settings))
    fleet = Fleet(db, clock, notifier, counters)
    metrics = CloudMetrics()
    link: CloudMqtt | None = None  # built last: its reactions use the services below

    def publish(delta: RulesDelta) -> None:
        assert link is not None  # no rules change before the services are built
        link.publish_delta(delta)

    ledger = Ledger(db, clock, publish=publish if settings.mqtt_url else None,
                    on_change=metrics.rules_changes.inc)
    parking = ParkingService(db, clock, ledger)
    subscriptions = SubscriptionService(db, clock, ledger)
    pay = settings.payments_url
    billing = Billing(
        db, clock, ledger, subscriptions, provider=HttpProvider(pay) if pay else None,
        callback_url=f"{settings.callback_base().rstrip('/')}/api/v1/payments/callback"
        if pay else "", payment_secret=(settings.secret("payments_secret") or "") if pay else "")
    presence = Presence(db, clock, ledger)
    staff = Staff(db, clock)
    admin_key = settings.secret("admin_key")
    if admin_key:
        staff.ensure("bootstrap admin", admin_key)
    codes = Codes(db, clock, ledger)
    # A society admin names the partner's endpoint: never an internal address, unless the
    # operator allows its network.
    targets = Targets(networks(settings.partner_internal_targets))
    partners = HttpPartners(targets)
    forwarder = Forwarder(db, clock, partners)
    partner_links = PartnerLinks(db, clock, partners, targets)
    vehicles = HttpVehicleRegistry(settings.vehicle_registry_url) \
        if settings.vehicle_registry_url else None
    fastags = HttpFastagRegistry(settings.fastag_registry_url) \
        if settings.fastag_registry_url else None
    jobs = Jobs(db, presence, settings.jobs_every_s, notifier, settings.job_lease_s,
                fastag=FastagBindings(db, clock, ledger, fastags, notifier),
                forwarder=forwarder, codes=Renewals(db, clock, ledger),
                counters=counters, metrics=metrics)
    walkins = WalkIns(db, clock, fleet, notifier)
    if settings.mqtt_url:
        link = CloudMqtt(db, clock, settings, fleet, counters=counters,
                         reactions=reactions_to_stored_events(jobs, codes, walkins),
                         in_tx=IN_STORING_TX, on_acked=metrics.ack_latency.observe)
    rejected = {"requests": 0}  # API requests refused as malformed (400/422)
    metrics.watch(link, notifier, rejected, forwarder)
    return Services(
        settings=settings, clock=clock, db=db, ledger=ledger, link=link, metrics=metrics,
        rejected=rejected, notifier=notifier, fleet=fleet, staff=staff,
        rules=RulesService(db, clock, ledger), accounts=Accounts(db, clock, ledger),
        stickers=Inventory(db, clock, ledger), schedules=Schedules(db, clock, ledger),
        parking=parking, cameras=Cameras(db), subscriptions=subscriptions,
        changes=SubscriptionChanges(db, clock, ledger, subscriptions), billing=billing,
        presence=presence, jobs=jobs, codes=codes, holders=CodeHolders(db, clock),
        walkins=walkins,
        # One who left opens no gate by code, and their partner links are disconnected.
        residents=Residents(db, clock, ledger,
                            on_removed=(codes.cancel_all_of, partner_links.resident_left)),
        activation=Activation(db, clock, ledger, vehicles,
                              lambda reason: metrics.activations_refused.labels(reason).inc(),
                              fastags, on_activated=partner_links.after_activation),
        vehicle_tags=VehicleTags(db, clock, ledger), partner_links=partner_links)
