"""The people, partners and codes of the scenario file format (docs/scenarios.md): residents,
stickers, the registries and the partner simulator, access codes and visitor passes, and the
steps that act on them. ``gatepost.scenario.schema`` holds the rest and imports these."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from shared.clock import parse_duration

Duration = Annotated[float, BeforeValidator(lambda v: parse_duration(v).total_seconds())]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FlatDef(_M):
    site: str
    flat: str
    role: Literal["owner", "tenant"] = "owner"


class ResidentDef(_M):
    ref: str = Field(description="the scenario's name for the resident (``resident: {who}``)")
    phone: str
    name: str
    flats: list[FlatDef] = []


class StickerDef(_M):
    tag_id: str
    secret: str
    epc: str = Field("", description="empty for a FITkit")
    vehicle_type: Literal["2W", "4W"] = "4W"
    kind: Literal["sticker", "fitkit"] = "sticker"
    site: str | None = None


class PartnerDef(_M):
    partner: Literal["mygate", "nobrokerhood", "zipgrid", "apnacomplex"]
    mode: Literal["opt_in", "opt_out"] | None = None
    site: str | None = None


class PartnerUser(_M):
    phone: str = Field(description="E.164, as the cloud keeps it")
    outcome: Literal["connected", "app_not_installed", "different_phone",
                     "not_mapped_to_society"] = "connected"
    partner: str | None = None


class PartnerSimDef(_M):
    users: list[PartnerUser] = []


class RegistryVehicle(_M):
    vrn: str
    type: Literal["2W", "4W"] = "4W"
    make: str = ""
    model: str = ""


class RegistryFastag(_M):
    vrn: str
    epc: str
    status: Literal["active", "blacklisted", "closed"] = "active"


class RegistryDef(_M):
    vehicles: list[RegistryVehicle] = []
    fastags: list[RegistryFastag] = []


RESIDENT_ACTIONS = ("add", "activate", "replace_tag", "lock", "unlock", "lost", "opt_in",
                    "opt_out")


class ResidentStep(_M):
    who: str
    add: dict[str, Any] | None = Field(None, description="{vrn, site?}")
    activate: dict[str, Any] | None = Field(None, description="{vrn, tag_id, secret}")
    replace_tag: dict[str, Any] | None = Field(None, description="{vrn, tag_id, secret}")
    lock: dict[str, Any] | None = Field(None, description="{vrn, until?}")
    unlock: dict[str, Any] | None = Field(None, description="{vrn}")
    lost: dict[str, Any] | None = Field(None, description="{vrn}")
    opt_in: dict[str, Any] | None = Field(None, description="{vrn}")
    opt_out: dict[str, Any] | None = Field(None, description="{vrn}")

    @model_validator(mode="after")
    def _one(self) -> ResidentStep:
        done = [k for k in RESIDENT_ACTIONS if getattr(self, k) is not None]
        if len(done) != 1:
            raise ValueError(f"a resident step does one thing of {', '.join(RESIDENT_ACTIONS)}")
        return self


class RegistryStep(_M):
    mode: Literal["ok", "down", "slow", "malformed"]
    delay_s: float = 0.0
    which: Literal["vehicles", "fastags"] = "vehicles"


class PartnerStep(_M):
    mode: Literal["ok", "down", "slow", "error"]
    delay_s: float = 0.0


class PartnerExpectStep(_M):
    received: int = Field(ge=0, description="events the partner holds that match")
    vrn: str | None = None
    kind: Literal["entry", "exit"] | None = None
    partner: str | None = None
    within: Duration = 10.0


class CodeSettingsDef(_M):
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


class VisitorStep(_M):
    who: str = Field(description="the resident issuing, cancelling, approving or denying (a "
                     "cloud.residents ref), or the guard asking or admitting (a panel user)")
    issue: dict[str, Any] | None = Field(None, description="{ref, kind, name, from?, until?, "
                                         "single_use?, vrn?, days?, start?, end?, schedule?}: "
                                         "from/until are ISO times or durations from the "
                                         "virtual now; days/start/end make it recurring")
    cancel: str | None = Field(None, description="the ref of a pass issued earlier")
    walk_in: dict[str, Any] | None = Field(None, description="{ref, gate, flat, name, kind?, "
                                           "phone?, vrn?}: the guard asks the flat")
    approve: str | None = Field(None, description="the ref of a walk-in the resident approves")
    deny: str | None = Field(None, description="the ref of a walk-in the resident denies")
    admit: str | None = Field(None, description="the ref of an approved walk-in the guard "
                              "opens for")

    @model_validator(mode="after")
    def _one(self) -> VisitorStep:
        done = [k for k in VISITOR_ACTIONS if getattr(self, k) is not None]
        if len(done) != 1:
            raise ValueError(f"a visitor step does one of {', '.join(VISITOR_ACTIONS)}")
        if self.walk_in is not None and not {"ref", "gate", "flat", "name"} <= set(
                self.walk_in):
            raise ValueError("visitor walk_in needs ref, gate, flat and name")
        if self.issue is not None and not {"ref", "kind", "name"} <= set(self.issue):
            raise ValueError("visitor issue needs ref, kind and name")
        return self


VISITOR_ACTIONS = ("issue", "cancel", "walk_in", "approve", "deny", "admit")


class WalkInExpect(_M):
    request: Literal["pending", "approved", "denied", "expired", "entered", "offline",
                     "refused"] | None = Field(None, description="the walk-in as the panel "
                                               "shows it after the step")
    decision: Literal["open", "deny", "none"] | None = None
    reason: str | None = None
    barrier_opened: bool | None = None
    status: int | None = None


class KeypadStep(_M):
    gate: str
    ref: str | None = Field(None, description="a pass issued by a visitor step")
    code: str | None = Field(None, description="the keys as typed (e.g. a wrong code)")
    card: str | None = Field(None, pattern=r"^\d{1,3}:\d{1,5}$", description="FACILITY:NUMBER "
                             "of a 26-bit Wiegand card held to the keypad's reader")

    @model_validator(mode="after")
    def _one(self) -> KeypadStep:
        if sum(x is not None for x in (self.ref, self.code, self.card)) != 1:
            raise ValueError("keypad needs one of ref, code, card")
        return self


class GuardCodeStep(_M):
    gate: str
    ref: str | None = Field(None, description="a pass issued by a visitor step")
    code: str | None = Field(None, description="a code as typed (e.g. a wrong one)")
    user: str = "guard"

    @model_validator(mode="after")
    def _one(self) -> GuardCodeStep:
        if (self.ref is None) == (self.code is None):
            raise ValueError("guard_code needs one of ref, code")
        return self


class CodesJob(_M):
    """The daily renewal job over access codes, run now (on the virtual clock)."""


class CodesJobExpect(_M):
    checked: int | None = None
    renewed: int | None = None
    lapsing: int | None = None
    expired: int | None = None
    issued: int | None = None


class CodeExpectStep(_M):
    ref: str = Field(description="a pass issued by a visitor step")
    status: Literal["issued", "active", "cancelled", "expired", "spent"]
    within: Duration = 10.0


class KeypadExpect(_M):
    decision: Literal["open", "deny", "none"] | None = None
    reason: str | None = None
    barrier_opened: bool | None = None
    led: Literal["green", "red", "none"] | None = Field(None, description="the reader's "
                                                         "flash after the code")
