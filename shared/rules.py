"""What the gates get of each kind of rule (tag, vehicle, gate, code, schedule, …) and the
typed changes a rules delta carries: one model per op, told apart by ``op``.

Part of the MQTT contract (``shared.contract`` re-exports every name): deltas carry the
changes, snapshots the rules.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from shared import schedule as schedules
from shared.vocab import Direction, TagStatus, VehicleType

SEGMENT_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class WireModel(BaseModel):
    """A frozen message model that refuses unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)




class GateRule(WireModel):
    """A gate as the cloud knows it; ``command_key`` verifies its signed commands."""

    id: str
    direction: Direction
    name: str = ""
    command_key: str | None = None
    parking: str | None = Field(None, description="the parking whose barrier this gate is; "
                                "none for a society-perimeter gate")


class VehicleRule(WireModel):
    """A vehicle of the site."""

    vrn: str
    type: VehicleType
    flat: str | None = Field(None, description="the flat or unit it belongs to (shown to guards)")
    schedule: str | None = Field(None, description="the schedule its entries keep to, by name "
                                 "(``ScheduleRule``); none: any time")


class TagRule(WireModel):
    """A tag as the edge caches it."""

    epc: str
    site: str
    status: TagStatus
    vrn: str | None = None
    locked: bool = False
    locked_until: datetime | None = None
    schedule: str | None = Field(None, description="the schedule entries on this tag keep to "
                                 "(a group of tags shares one); none: any time")


class CodeRule(WireModel):
    """An access code or visitor pass as the edge caches it: never the code, only its keyed
    hash (``shared.codes.code_hash`` under the site's key); the edge decides from the rest."""

    hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256 of the code")
    site: str
    kind: Literal["person", "visitor"]
    status: Literal["issued", "active", "cancelled", "expired", "spent"] = Field(
        description="issued: not activated yet (opens only where the first use activates it)")
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    activate_by: datetime | None = Field(None, description="an issued code may be activated "
                                         "until then")
    single_use: bool = Field(False, description="spent at its first entry")
    schedule: str | None = Field(None, description="the site's schedule it keeps to (a "
                                 "helper's days and hours)")
    flat: str | None = None
    vrn: str | None = None
    label: str = Field("", max_length=200, description="who it is for, as the guard sees it")


class CodeConfig(WireModel):
    """How a site's codes are read at its gates: hashed by ``scrypt(pepper + code, salt)``
    (``shared.codes.CodeKey``), or, at a site not rotated since, by the legacy HMAC ``key``.
    The pepper is sent only to the site's own boxes, which keep it in memory."""

    key: str | None = Field(None, pattern=r"^[0-9a-f]{64}$", description="legacy: the site's "
                            "HMAC key (hex); absent once the site's codes are hashed by scrypt")
    alphabet: Literal["digits", "letters"]
    first_use_activates: bool = Field(False, description="an issued code is activated by its "
                                      "first use at a gate")
    salt: str | None = Field(None, pattern=r"^[0-9a-f]{64}$", description="scrypt: the "
                             "site's salt (hex) of this generation")
    cost: int | None = Field(None, ge=2, le=1 << 16, description="scrypt: N (r = 8, p = 1)")
    generation: int | None = Field(None, ge=1, description="scrypt: which key of the site; "
                                   "a rotation draws the next, and a box drops codes of another")
    pepper: str | None = Field(None, pattern=r"^[0-9a-f]{64}$", description="scrypt: the "
                               "site's secret (hex), only to its own boxes, never on their disk")


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class ScheduleWindow(WireModel):
    """Days of the week and a time range on the site's clock; an ``end`` before ``start``
    runs past midnight (``shared.schedule``)."""

    days: list[Weekday] = Field(min_length=1, max_length=7)
    start: str = Field(pattern=schedules.HHMM.pattern, description="HH:MM, included")
    end: str = Field(pattern=schedules.HHMM.pattern, description="HH:MM or 24:00, excluded")


class ScheduleRule(WireModel):
    """A named time-of-day access profile of a site, with the site's time zone."""

    name: str = Field(pattern=SEGMENT_PATTERN, description="[A-Za-z0-9_-], unique per site")
    timezone: str = Field(max_length=64, description="the site's IANA time zone")
    windows: list[ScheduleWindow] = Field(min_length=1, max_length=50)
    holidays: list[date] = Field(default_factory=list, max_length=1000,
                                 description="dates on which no window starts")
    label: str = Field("", max_length=200)

    @model_validator(mode="after")
    def _valid(self) -> ScheduleRule:
        self.to_schedule()  # ValueError names the bad window or zone
        return self

    def to_schedule(self) -> schedules.Schedule:
        """The pure schedule the decision core evaluates."""
        return schedules.build(self.name, self.timezone,
                               [(list(w.days), w.start, w.end) for w in self.windows],
                               self.holidays, self.label)


class AccountRule(WireModel):
    """A guard or supervisor of the site's panel; only the scrypt hash travels."""

    username: str
    role: Literal["guard", "supervisor"]
    pw_hash: str


class ParkingRule(WireModel):
    """A parking of the site: its gates decide from subscriptions."""

    id: str
    active: bool


class SubscriptionRule(WireModel):
    """A subscription as a gate needs it: who, which times, and the status the cloud last set.

    The edge recomputes the status from the times (``shared.parking.standing``), so an
    expired subscription turns overdue at a gate that has lost the cloud.
    """

    id: str
    parking: str
    space: int
    status: str
    unit: Literal["daily", "hourly"]
    start: datetime
    end: datetime
    paid_through: datetime
    vrns: list[str]
    continued: bool = Field(False, description="an extension starts where this one ends")
    debt_price: int = Field(0, description="owed per begun unit once overdue (the dearest band, "
                            "plus the camera's when camera access was paid)")
    schedule: str | None = Field(None, description="the schedule entries on it keep to")


class SiteRule(WireModel):
    """A site's country, language, currency and clock: what its boxes show people in
    (``shared.country``)."""

    country: str = Field("IN", pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    locale: str = Field("en", max_length=8, description="en, hi, ru or pt-BR")
    currency: str = Field("INR", pattern=r"^[A-Z]{3}$", description="ISO 4217")
    timezone: str | None = Field(None, max_length=64, description="IANA; none until set")


class PresenceRule(WireModel):
    """A vehicle put inside or outside by hand (staff correction in the cloud)."""

    vrn: str
    inside: bool
    parking: str | None = None


# Every field a change has had on the wire, in the order of the untyped change of before.
CHANGE_FIELDS = ("op", "tag", "vehicle", "gate", "account", "parking", "subscription",
                 "presence", "schedule", "code", "code_config", "key")


class _Change(WireModel):
    """One rule change inside a delta; each op its own model (``Change`` is their union).

    On the wire a change is ``{"op": …, <its one field>: …}``: the fields of the other ops
    are absent (MQTT) or ``null`` (the cloud's stored change log, written before the union):
    a ``null`` field of another op is read as absent."""

    @model_validator(mode="before")
    @classmethod
    def _nulls_of_other_ops(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items()
                    if v is not None or k in cls.model_fields or k not in CHANGE_FIELDS}
        return data


class TagUpsert(_Change):
    """A tag added or changed."""

    op: Literal["tag.upsert"] = "tag.upsert"
    tag: TagRule


class TagDelete(_Change):
    """A tag removed, by EPC."""

    op: Literal["tag.delete"] = "tag.delete"
    key: str = Field(min_length=1, description="the tag's EPC")


class VehicleUpsert(_Change):
    """A vehicle added or changed."""

    op: Literal["vehicle.upsert"] = "vehicle.upsert"
    vehicle: VehicleRule


class VehicleDelete(_Change):
    """A vehicle removed, by VRN."""

    op: Literal["vehicle.delete"] = "vehicle.delete"
    key: str = Field(min_length=1, description="the vehicle's VRN")


class GateUpsert(_Change):
    """A gate added or changed."""

    op: Literal["gate.upsert"] = "gate.upsert"
    gate: GateRule


class AccountUpsert(_Change):
    """A panel account added or changed."""

    op: Literal["account.upsert"] = "account.upsert"
    account: AccountRule


class AccountDelete(_Change):
    """A panel account removed, by user name."""

    op: Literal["account.delete"] = "account.delete"
    key: str = Field(min_length=1, description="the account's user name")


class ParkingUpsert(_Change):
    """A parking added or changed (made active or not)."""

    op: Literal["parking.upsert"] = "parking.upsert"
    parking: ParkingRule


class SubscriptionUpsert(_Change):
    """A subscription added or changed."""

    op: Literal["subscription.upsert"] = "subscription.upsert"
    subscription: SubscriptionRule


class SubscriptionDelete(_Change):
    """A subscription removed, by id."""

    op: Literal["subscription.delete"] = "subscription.delete"
    key: str = Field(min_length=1, description="the subscription's id")


class PresenceSet(_Change):
    """A vehicle put inside or outside by hand."""

    op: Literal["presence.set"] = "presence.set"
    presence: PresenceRule


class ScheduleUpsert(_Change):
    """A schedule added or changed."""

    op: Literal["schedule.upsert"] = "schedule.upsert"
    schedule: ScheduleRule


class ScheduleDelete(_Change):
    """A schedule removed, by name."""

    op: Literal["schedule.delete"] = "schedule.delete"
    key: str = Field(min_length=1, description="the schedule's name")


class CodeUpsert(_Change):
    """An access code or visitor pass added or changed."""

    op: Literal["code.upsert"] = "code.upsert"
    code: CodeRule


class CodeDelete(_Change):
    """A code removed, by its keyed hash."""

    op: Literal["code.delete"] = "code.delete"
    key: str = Field(min_length=1, description="the code's keyed hash")


class CodesConfig(_Change):
    """A site's code settings (none: the site has none)."""

    op: Literal["codes.config"] = "codes.config"
    code_config: CodeConfig | None = None


class SiteSettings(_Change):
    """The site's country, language, currency or time zone changed."""

    op: Literal["site.settings"] = "site.settings"
    settings: SiteRule


Change = Annotated[
    TagUpsert | TagDelete | VehicleUpsert | VehicleDelete | GateUpsert | AccountUpsert
    | AccountDelete | ParkingUpsert | SubscriptionUpsert | SubscriptionDelete | PresenceSet
    | ScheduleUpsert | ScheduleDelete | CodeUpsert | CodeDelete | CodesConfig | SiteSettings,
    Field(discriminator="op")]
"""One rule change inside a delta: a model per op, told apart by ``op``."""

CHANGE_MODELS: tuple[type[_Change], ...] = get_args(get_args(Change)[0])
OPS: tuple[str, ...] = tuple(m.model_fields["op"].default for m in CHANGE_MODELS)
CHANGES: TypeAdapter[list[Change]] = TypeAdapter(list[Change])  # reads a stored list
