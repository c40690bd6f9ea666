"""Routes of the sticker inventory: staff import batches of stickers mapped to a society and
read them back (never their secrets)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.limits import STICKERS_CSV_MAX
from cloud.errors import ERROR_RESPONSES
from cloud.society import inventory
from cloud.society.rules import RulesService


class UnblockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=500, description="why: kept in the audit log")


CSV_BODY = {"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}},
                            "required": True}}


def inventory_router(rules: RulesService) -> APIRouter:
    """The inventory's routes (staff with the admin role)."""
    r = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)

    @r.post("/sites/{site}/tags/import", status_code=201, openapi_extra=CSV_BODY,
            max_body_size=STICKERS_CSV_MAX)
    def import_stickers(site: str, batch: str = Query("", max_length=100),
                        text: str = Body(..., media_type="text/csv", max_length=50_000_000)
                        ) -> dict[str, Any]:
        """Import stickers (CSV ``tag_id,secret,epc,vehicle_type``) mapped to the site: one
        rules change, all or none."""
        return inventory.import_stickers(rules, site, text, batch)

    @r.get("/sites/{site}/stickers")
    def summary(site: str) -> dict[str, Any]:
        """How many stickers the site has, in inventory and activated."""
        return inventory.summary(rules, site)

    @r.post("/tags/{epc}/unblock")
    def unblock(epc: str, body: UnblockIn, request: Request) -> dict[str, Any]:
        """Unblock a blocked tag, with a reason that is audited (never a replaced sticker)."""
        who = getattr(request.state, "principal", None)
        return inventory.unblock(rules, epc, body.reason, who.name if who else "staff")

    @r.get("/stickers/{tag_id}")
    def sticker(tag_id: str) -> dict[str, Any]:
        """One sticker by its printed tag id, with its lifecycle."""
        return inventory.sticker(rules, tag_id)

    return r
