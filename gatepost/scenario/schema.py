"""The scenario file format (docs/scenarios.md): a public contract, extended compatibly.

Every model forbids unknown keys, so a typo is an error with its step and key path, never a
silently ignored expectation.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from gatepost.scenario.parking import PARKING_ACTIONS
from gatepost.scenario.schedules import SCHEDULE_ACTIONS
from gatepost.scenario.schema_admin import (
    ADMIN_ACTIONS,
    CodePaymentStep,
    CommitteeStep,
    CompanyStep,
    FastagRecheck,
    FastagRecheckExpect,
    PartnerReadExpect,
    PartnerReadStep,
    RemoveResidentStep,
    ResidentCodeStep,
)
from gatepost.scenario.schema_people import (
    CodeExpectStep,
    CodeSettingsDef,
    CodesJob,
    CodesJobExpect,
    GuardCodeStep,
    KeypadExpect,
    KeypadStep,
    PartnerDef,
    PartnerExpectStep,
    PartnerSimDef,
    PartnerStep,
    RegistryDef,
    RegistryStep,
    ResidentDef,
    ResidentStep,
    StickerDef,
    VisitorStep,
    WalkInExpect,
)
from shared.clock import parse_duration
from shared.vocab import Direction

Duration = Annotated[float, BeforeValidator(lambda v: parse_duration(v).total_seconds())]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CameraDef(_M):
    country: str = "IN"
    trigger: Literal["motion", "loop", "always"] = "motion"
    qr: bool = Field(False, description="the camera also reads visitor passes' QR codes")


class GateDef(_M):
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


class SiteDef(_M):
    id: str
    name: str = ""
    timezone: str | None = None
    gates: list[GateDef] = Field(min_length=1)


class VehicleDef(_M):
    vrn: str
    type: Literal["2W", "4W"] = "4W"
    site: str | None = None
    flat: str | None = None


class TagDef(_M):
    epc: str
    vrn: str | None = None
    status: Literal["inactive", "active", "blocked"] = "active"
    vehicle_type: Literal["2W", "4W"] | None = None
    site: str | None = None
    locked: bool = False
    locked_until: datetime | None = None


class AccountDef(_M):
    username: str
    role: Literal["guard", "supervisor"] = "guard"
    password: str = Field(min_length=10)
    site: str | None = None


class ScheduleDef(_M):
    name: str
    windows: list[dict[str, Any]] = Field(min_length=1)
    holidays: list[str] = []
    label: str = ""
    site: str | None = None
    vehicles: list[str] = Field([], description="VRNs bound to it")
    tags: list[str] = Field([], description="EPCs bound to it (a group of tags)")


class CloudSetup(_M):
    vehicles: list[VehicleDef] = []
    tags: list[TagDef] = []
    accounts: list[AccountDef] = []
    schedules: list[ScheduleDef] = []
    residents: list[ResidentDef] = []
    stickers: list[StickerDef] = []
    partners: list[PartnerDef] = []
    codes: list[CodeSettingsDef] = []


class GateExpect(_M):
    decision: Literal["open", "deny", "ignored", "none"] | None = None
    reason: str | None = None
    barrier_opened: bool | None = None
    passed: bool | None = None
    vrn: str | None = None


class VehicleStep(_M):
    gate: str
    epc: str | None = None
    image: str | None = Field(None, description="photograph the gate camera sees; relative "
                              "paths resolve against $GATEPOST_PLATES, then the file's folder")
    drive_through: bool = True
    give_up_after: Duration = 1.5


class ArriveStep(_M):
    gate: str
    epc: str | None = None
    image: str | None = Field(None, description="as in `camera:`")
    give_up_after: Duration = Field(10.0, description="how long the vehicle waits for the "
                                    "boom before it gives up and leaves")


class GateExpectStep(_M):
    gate: str
    decision: Literal["open", "deny", "ignored", "none"] | None = None
    reason: str | None = None
    vrn: str | None = None
    barrier_opened: bool | None = None
    passed: bool | None = None
    within: Duration = 5.0


class RemoteOpenStep(_M):
    gate: str
    vehicle: str | None = None
    tamper: Literal["none", "unsigned", "bad_signature", "expired", "replayed",
                    "retained"] = "none"
    resident: str | None = Field(None, description="ask with this resident's own API key (the "
                                 "owner or a user of the subscription) instead of staff's")


class GuardStep(_M):
    open: str = Field(description="the gate the guard opens from the panel")
    reason: str = Field(description="why (one of the panel's reasons or free text)")
    user: str = Field("guard", description="the guard's account (created in the cloud and "
                      "synced to the box on first use)")
    vehicle: str | None = None


class GuardExpect(_M):
    decision: Literal["open", "deny", "none"] | None = None
    reason: str | None = None
    barrier_opened: bool | None = None
    status: int | None = None


class RemoteExpect(_M):
    decision: Literal["open", "deny", "none"] | None = None
    reason: str | None = None
    cause: str | None = None
    barrier_opened: bool | None = None
    status: int | None = None


class CloudExpect(_M):
    status: int | None = None
    reason: str | None = None
    partner: str | None = Field(None, description="the partner link's state in the answer")
    partner_reason: str | None = Field(None, description="why the link is user_not_found: "
                                       "app_not_installed, different_phone or "
                                       "not_mapped_to_society")


class CloudExpectStored(_M):
    decisions: dict[Literal["open", "deny"], int] | None = None
    events: dict[Literal["read", "decision", "open", "pass", "fault", "alert", "presence",
                         "open_unconfirmed", "hold"], int] | None = None
    complete: bool | None = Field(None, description="every event the edge issued is stored "
                                  "exactly once and its outbox is empty")
    within: Duration = 10.0
    site: str | None = None
    subscription: dict[str, Any] | None = Field(None, description="{ref, status?, debt?, "
                                                "refund?, standing?}")
    space: dict[str, Any] | None = Field(None, description="{parking, number, status}")


ACTIONS = ("rfid", "vehicle", "camera", "together", "cloud", "remote_open", "guard", "advance",
           "at",
           "link", "broker", "edge", "reader", "expect_cloud", "arrive", "expect_gate",
           "resident", "registry", "partner", "expect_partner", "visitor", "guard_code",
           "expect_code", "keypad", "qr", "codes_job", *ADMIN_ACTIONS)
CLOUD_ACTIONS = ("add_vehicle", "remove_vehicle", "add_tag", "block_tag", "activate_tag",
                 "move_tag",
                 "lock_tag", "unlock_tag", "remove_tag", *PARKING_ACTIONS, *SCHEDULE_ACTIONS)


class Step(_M):
    """Exactly one action key per step, plus an optional ``expect``."""

    rfid: VehicleStep | None = None
    vehicle: VehicleStep | None = None
    camera: VehicleStep | None = None
    together: list[Step] | None = None
    cloud: dict[str, dict[str, Any]] | None = None
    remote_open: RemoteOpenStep | None = None
    guard: GuardStep | None = None
    advance: str | float | None = None
    at: datetime | None = None
    link: Literal["down", "up"] | None = None
    broker: Literal["down", "up"] | None = None
    edge: Literal["kill", "start", "stop", "restart"] | None = None
    reader: dict[str, Any] | None = None
    expect_cloud: CloudExpectStored | None = None
    arrive: ArriveStep | None = None
    expect_gate: GateExpectStep | None = None
    resident: ResidentStep | None = None
    registry: RegistryStep | None = None
    partner: PartnerStep | None = None
    expect_partner: PartnerExpectStep | None = None
    visitor: VisitorStep | None = None
    guard_code: GuardCodeStep | None = None
    expect_code: CodeExpectStep | None = None
    keypad: KeypadStep | None = None
    qr: KeypadStep | None = Field(None, description="{gate, ref | code}: a QR held up to the "
                                  "gate's camera")
    codes_job: CodesJob | None = Field(None, description="{}: the daily renewal job over "
                                       "access codes, run now")
    resident_code: ResidentCodeStep | None = None
    committee: CommitteeStep | None = None
    company: CompanyStep | None = None
    code_payment: CodePaymentStep | None = None
    remove_resident: RemoveResidentStep | None = None
    fastag_recheck: FastagRecheck | None = Field(None, description="{}: the FASTag re-check "
                                                 "of every FITkit binding, run now")
    partner_read: PartnerReadStep | None = None
    expect: dict[str, Any] | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        keys = [k for k in ACTIONS if getattr(self, k) is not None]
        if len(keys) != 1:
            raise ValueError(f"a step needs exactly one action, found {keys or 'none'}")
        if self.rfid is not None and not self.rfid.epc:
            raise ValueError("rfid steps need an epc (use `vehicle:` for a car with no tag)")
        if self.camera is not None and not self.camera.image:
            raise ValueError("camera steps need an image")
        if self.cloud is not None:
            if len(self.cloud) != 1:
                raise ValueError("a cloud step names exactly one action")
            action = next(iter(self.cloud))
            if action not in CLOUD_ACTIONS:
                raise ValueError(f"unknown cloud action {action!r}; known: "
                                 f"{', '.join(CLOUD_ACTIONS)}")
        if self.together is not None:
            for s in self.together:
                if s.rfid is None and s.vehicle is None and s.camera is None:
                    raise ValueError("together: holds only rfid/vehicle/camera steps")
        if self.advance is not None:
            parse_duration(self.advance)
        if self.reader is not None and (
                "gate" not in self.reader or not set(self.reader) <= {"gate", "line", "faults"}):
            raise ValueError("reader: {gate, line: down|up} or {gate, faults: {...}}")
        if self.expect is not None:
            if self.rfid or self.vehicle or self.camera:
                GateExpect.model_validate(self.expect)
            elif self.visitor is not None and self.visitor.issue is None and \
                    self.visitor.cancel is None:
                WalkInExpect.model_validate(self.expect)
            elif self.cloud is not None or self.resident is not None or \
                    self.visitor is not None or self.resident_code or self.committee or \
                    self.company or self.code_payment or self.remove_resident:
                CloudExpect.model_validate(self.expect)
            elif self.fastag_recheck is not None:
                FastagRecheckExpect.model_validate(self.expect)
            elif self.partner_read is not None:
                PartnerReadExpect.model_validate(self.expect)
            elif self.remote_open is not None:
                RemoteExpect.model_validate(self.expect)
            elif self.guard is not None or self.guard_code is not None:
                GuardExpect.model_validate(self.expect)
            elif self.keypad is not None:
                KeypadExpect.model_validate(self.expect)
            elif self.qr is not None:
                GuardExpect.model_validate(self.expect)
            elif self.codes_job is not None:
                CodesJobExpect.model_validate(self.expect)
            else:
                raise ValueError("expect: belongs to rfid, vehicle, camera, cloud, resident, "
                                 "remote_open, guard, keypad, qr, codes_job and staff's "
                                 "steps")
        return self


class Policy(_M):
    dedup_hold_s: float | None = None
    pass_window_s: float | None = None
    poll_ms: int | None = None
    anti_passback: Literal["off", "soft", "hard"] | None = None
    redecide_s: float | None = None


class BarrierDef(_M):
    rise_s: float = 0.3
    fall_s: float = 0.3
    warn_s: float = 0.0
    auto_close_s: float = 3.0
    close_after_pass_s: float = 0.2


class Scenario(_M):
    name: str
    start: datetime | None = None
    site: SiteDef | None = None
    sites: list[SiteDef] | None = None
    cloud: CloudSetup = CloudSetup()
    registry: RegistryDef = RegistryDef()
    partner: PartnerSimDef = PartnerSimDef()
    policy: Policy = Policy()
    barrier: BarrierDef = BarrierDef()
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _sites(self) -> Scenario:
        if (self.site is None) == (self.sites is None):
            raise ValueError("give either `site:` or `sites:`")
        gates = [g.id for s in self.all_sites for g in s.gates]
        if len(gates) != len(set(gates)):
            raise ValueError(f"gate ids must be unique across sites: {gates}")
        return self

    @property
    def all_sites(self) -> list[SiteDef]:
        return [self.site] if self.site else list(self.sites or [])


class ScenarioError(Exception):
    """A file that cannot be run: names the file, the step and the reason."""


def load(path: Path) -> Scenario:
    """Parse and validate one file, or raise ScenarioError."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as exc:
        raise ScenarioError(f"{path}: no such file") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping with name, site and steps")
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = list(err["loc"])
            where = ".".join(str(p) for p in loc)
            if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
                where = f"step {loc[1] + 1}" + ("." + ".".join(str(p) for p in loc[2:])
                                                 if len(loc) > 2 else "")
            lines.append(f"{path}: {where or 'top level'}: {err['msg']}")
        raise ScenarioError("\n".join(lines)) from exc
