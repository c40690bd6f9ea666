"""The scenario file format (docs/scenarios.md) apart from its steps: the sites and gates, the
cloud's set-up, the registries and the partner simulator, the gates' policy and the barrier's
timing. A public contract, extended compatibly; ``gatepost.scenario.schema`` adds the steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from gatepost.scenario.base import Model
from shared.vocab import Direction


class CameraDef(Model):
    country: str = "IN"
    trigger: Literal["motion", "loop", "always"] = "motion"
    qr: bool = Field(False, description="the camera also reads visitor passes' QR codes")


class GateDef(Model):
    id: str
    direction: Direction
    name: str = ""
    camera: CameraDef | None = None
    keypad: bool = Field(False, description="an OSDP keypad reader at this gate (simulated)")
    credentials: Literal["tag", "plate", "either", "both"] = "either"
    mismatch: Literal["deny", "alert"] = "deny"
    parking: str | None = Field(None, description="the parking this gate is a barrier of "
                                "(linked when the scenario's add_parking creates it)")
    anti_passback: Literal["off", "soft", "hard"] | None = Field(
        None, description="this gate's anti-passback, overriding the scenario's policy")
    confirm_reads: int | None = Field(None, ge=1, le=10, description="identical EPCs needed "
                                      "before a tag is decided")


class SiteDef(Model):
    id: str
    name: str = ""
    timezone: str | None = None
    country: str | None = Field(None, description="ISO 3166-1 alpha-2 (default IN): its plates "
                                "are validated as that country's")
    locale: str | None = Field(None, description="en, hi, ru or pt-BR (default: the country's)")
    currency: str | None = Field(None, description="ISO 4217 (default: the country's)")
    gates: list[GateDef] = Field(min_length=1)


class VehicleDef(Model):
    vrn: str
    type: Literal["2W", "4W"] = "4W"
    site: str | None = None
    flat: str | None = None


class TagDef(Model):
    epc: str
    vrn: str | None = None
    status: Literal["inactive", "active", "blocked"] = "active"
    vehicle_type: Literal["2W", "4W"] | None = None
    site: str | None = None
    locked: bool = False
    locked_until: datetime | None = None


class AccountDef(Model):
    username: str
    role: Literal["guard", "supervisor"] = "guard"
    password: str = Field(min_length=10)
    site: str | None = None


class ScheduleDef(Model):
    name: str
    windows: list[dict[str, Any]] = Field(min_length=1)
    holidays: list[str] = []
    label: str = ""
    site: str | None = None
    vehicles: list[str] = Field([], description="VRNs bound to it")
    tags: list[str] = Field([], description="EPCs bound to it (a group of tags)")


class FlatDef(Model):
    site: str
    flat: str
    role: Literal["owner", "tenant"] = "owner"


class ResidentDef(Model):
    ref: str = Field(description="the scenario's name for the resident (``resident: {who}``)")
    phone: str
    name: str
    flats: list[FlatDef] = []


class StickerDef(Model):
    tag_id: str
    secret: str
    epc: str = Field("", description="empty for a FITkit")
    vehicle_type: Literal["2W", "4W"] = "4W"
    kind: Literal["sticker", "fitkit"] = "sticker"
    site: str | None = None


class PartnerDef(Model):
    partner: Literal["mygate", "nobrokerhood", "zipgrid", "apnacomplex"]
    mode: Literal["opt_in", "opt_out"] | None = None
    site: str | None = None


class PartnerUser(Model):
    phone: str = Field(description="E.164, as the cloud keeps it")
    outcome: Literal["connected", "app_not_installed", "different_phone",
                     "not_mapped_to_society"] = "connected"
    partner: str | None = None


class PartnerSimDef(Model):
    users: list[PartnerUser] = []


class RegistryVehicle(Model):
    vrn: str
    type: Literal["2W", "4W"] = "4W"
    make: str = ""
    model: str = ""


class RegistryFastag(Model):
    vrn: str
    epc: str
    status: Literal["active", "blacklisted", "closed"] = "active"


class RegistryDef(Model):
    vehicles: list[RegistryVehicle] = []
    fastags: list[RegistryFastag] = []


class CodeSettingsDef(Model):
    alphabet: Literal["digits", "letters"] = "digits"
    length: int = Field(8, ge=8, le=10)
    per_person: int = Field(2, ge=1, le=4)
    first_use_activates: bool = False
    activation_days: int | None = Field(None, ge=1)
    duration_days: int | None = Field(None, ge=1)
    subscription_days: int | None = Field(None, ge=1)
    eligible: list[Literal["owner", "tenant", "committee"]] | None = None
    free: list[Literal["owner", "tenant", "committee"]] | None = None
    site: str | None = None


class CloudSetup(Model):
    vehicles: list[VehicleDef] = []
    tags: list[TagDef] = []
    accounts: list[AccountDef] = []
    schedules: list[ScheduleDef] = []
    residents: list[ResidentDef] = []
    stickers: list[StickerDef] = []
    partners: list[PartnerDef] = []
    codes: list[CodeSettingsDef] = []


class Policy(Model):
    dedup_hold_s: float | None = None
    pass_window_s: float | None = None
    poll_ms: int | None = None
    anti_passback: Literal["off", "soft", "hard"] | None = None
    redecide_s: float | None = None


class BarrierDef(Model):
    rise_s: float = 0.3
    fall_s: float = 0.3
    warn_s: float = 0.0
    auto_close_s: float = 3.0
    close_after_pass_s: float = 0.2


class ScenarioSetup(Model):
    """Everything in a file but its steps."""

    name: str
    start: datetime | None = None
    site: SiteDef | None = None
    sites: list[SiteDef] | None = None
    cloud: CloudSetup = CloudSetup()
    registry: RegistryDef = RegistryDef()
    partner: PartnerSimDef = PartnerSimDef()
    policy: Policy = Policy()
    barrier: BarrierDef = BarrierDef()

    @model_validator(mode="after")
    def _sites(self) -> ScenarioSetup:
        if (self.site is None) == (self.sites is None):
            raise ValueError("give either `site:` or `sites:`")
        gates = [g.id for s in self.all_sites for g in s.gates]
        if len(gates) != len(set(gates)):
            raise ValueError(f"gate ids must be unique across sites: {gates}")
        return self

    @property
    def all_sites(self) -> list[SiteDef]:
        return [self.site] if self.site else list(self.sites or [])
