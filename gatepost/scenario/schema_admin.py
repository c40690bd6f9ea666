"""The scenario steps of what only staff (or a partner) do through the cloud API: a resident's
own access code, a committee seat, a company, a code payment, a resident who leaves, the
FASTag re-check and a read of the partner API. ``gatepost.scenario.schema`` imports these."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResidentCodeStep(_M):
    who: str = Field(description="a cloud.residents ref: the resident given a code")
    ref: str | None = Field(None, description="the scenario's name for the code (``keypad`` "
                            "and ``guard_code`` steps type it by this ref)")
    site: str | None = None


class CommitteeStep(_M):
    who: str = Field(description="a cloud.residents ref")
    role: str = Field("member", description="president, secretary, treasurer, member…")
    flat: str | None = Field(None, description="the unit the member stands for")
    external: bool = Field(False, description="an external professional")
    mandate_start: date | None = None
    mandate_end: date | None = None
    leave: bool = Field(False, description="the member leaves the committee instead")
    site: str | None = None


class CompanyStep(_M):
    who: str = Field(description="a cloud.residents ref")
    company: bool = Field(True, description="false: a person again")


class CodePaymentStep(_M):
    who: str = Field(description="a cloud.residents ref")
    paid_through: date = Field(description="the last day the receipt's item covers")
    site: str | None = None


class RemoveResidentStep(_M):
    who: str = Field(description="a cloud.residents ref: the resident who leaves")


class FastagRecheck(_M):
    """The daily re-check of every FITkit binding against the FASTag registry, run now."""


class FastagRecheckExpect(_M):
    checked: int | None = Field(None, description="FITkit bindings checked")
    moved: int | None = None
    deactivated: int | None = None
    reactivated: int | None = None
    unavailable: int | None = None
    conflicts: int | None = None


class PartnerReadStep(_M):
    partner: Literal["mygate", "nobrokerhood", "zipgrid", "apnacomplex"]
    read: Literal["sites", "vehicles", "tags", "events"] = "vehicles"
    site: str | None = Field(None, description="default: the scenario's first site")
    key_sites: list[str] | None = Field(None, description="the partner key may read only "
                                        "these societies (set when its key is made, on the "
                                        "partner's first read)")


class PartnerReadExpect(_M):
    status: int | None = None
    reason: str | None = None
    count: int | None = Field(None, description="how many items the answer lists")
    vrns: list[str] | None = Field(None, description="the VRNs it shows (any order)")
    sites: list[str] | None = Field(None, description="``read: sites``: the societies")


ADMIN_ACTIONS = ("resident_code", "committee", "company", "code_payment", "remove_resident",
                 "fastag_recheck", "partner_read")
