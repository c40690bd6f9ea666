"""The request bodies of the parking API (``cloud/parking_api.py``): unknown fields are refused."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParkingIn(_In):
    id: str
    name: str
    address: str = ""
    objects: list[str] = Field(default_factory=list, description="residential objects served")
    guard_phone: str = ""
    refunds: bool = False
    offer_required: bool = False
    rules_text: str = Field("", description="parking rules shown to residents")
    debt_rules: str = Field("", description="debt-repayment rules shown to residents")
    external_id: str | None = None
    staff_email: str = Field("", description="where staff notifications go (barrier failures)")


class ParkingPatch(_In):
    name: str | None = None
    address: str | None = None
    objects: list[str] | None = None
    guard_phone: str | None = None
    refunds: bool | None = None
    offer_required: bool | None = None
    rules_text: str | None = None
    debt_rules: str | None = None
    external_id: str | None = None
    staff_email: str | None = None


class GateParkingIn(_In):
    parking: str | None = Field(description="the parking this gate is a barrier of; null: a "
                                "society-perimeter gate")


class SpacesIn(_In):
    numbers: str | int | list[int] = Field(description='one number, "4..7", "4,9" or a list')
    size: Literal["small", "medium", "large"]
    labels: list[str] = Field(default_factory=list, max_length=5)
    rentable: bool = True


class SpacePatch(_In):
    size: Literal["small", "medium", "large"] | None = None
    labels: list[str] | None = Field(None, max_length=5)
    rentable: bool | None = None
    available_until: str | None = None


class TariffIn(_In):
    kind: Literal["space", "camera"] = "space"
    size: Literal["small", "medium", "large"] | None = None
    unit: Literal["daily", "hourly"] = "daily"
    name: str = ""
    lower: int
    upper: int
    price: int


class VehicleIn(_In):
    vrn: str
    type: Literal["2W", "4W"] = "4W"
    make: str = ""


class SubscriptionIn(_In):
    space: int
    owner: str
    vehicles: list[VehicleIn] = Field(min_length=1)
    unit: Literal["daily", "hourly"] = "daily"
    amount: int | None = Field(None, ge=0, description="paid by the resident (staff creation)")
    units: int | None = Field(None, ge=1, description="days or hours (free or resident)")
    camera: bool = False
    free: bool = Field(False, description="staff grant the space free of charge")
    users: list[str] = Field(default_factory=list)
    documents: list[str] = Field(default_factory=list, description="payment documents")
    by: str = "staff"


class _OfferIn(_In):
    offer_accepted: bool = Field(False, description="the resident accepted the parking's "
                                 "offer (its rules_text); required where offer_required")


class ResidentIn(_OfferIn):
    space: int
    owner: str
    vehicles: list[VehicleIn] = Field(min_length=1)
    unit: Literal["daily", "hourly"] = "daily"
    units: int = Field(ge=1, description="days or hours wanted")
    camera: bool = False
    users: list[str] = Field(default_factory=list)


class ImportIn(_In):
    subscriptions: list[dict[str, Any]] = Field(
        description="[{space, owner, vehicles: [plate or {vrn, type, make}], unit, units, "
        "amount?, start?}, …]")
    by: str = "import"


class ExtendIn(_In):
    amount: int | None = Field(None, ge=0)
    units: int | None = Field(None, ge=1)
    free: bool = False
    by: str = "staff"


class ExtendInApp(_OfferIn):
    units: int = Field(ge=1, description="days or hours more")


class DeactivateIn(_In):
    refund: Literal["none", "manual", "remaining", "full"] = "none"
    amount: int | None = Field(None, ge=0)
    by: str = "staff"


class SpaceMoveIn(_In):
    space: int


class OwnerIn(_In):
    owner: str


class UsersIn(_In):
    users: list[str] = Field(description="residents who may use it besides the owner")


class DocumentsIn(_In):
    documents: list[str] = Field(min_length=1, description="payment documents (receipts)")


class PayDebtIn(_In):
    reference: str | None = None
    by: str = "staff"


class PresenceIn(_In):
    inside: bool
    by: str = "staff"
