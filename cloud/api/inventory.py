"""Routes of the sticker inventory: staff import batches of stickers mapped to a society and
read them back (never their secrets)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import StickersDep
from cloud.api.limits import STICKERS_CSV_MAX
from cloud.errors import ERROR_RESPONSES


class UnblockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=500, description="why: kept in the audit log")


CSV_BODY = {"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}},
                            "required": True}}


router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


@router.post("/sites/{site}/tags/import", status_code=201, openapi_extra=CSV_BODY,
             max_body_size=STICKERS_CSV_MAX)
def import_stickers(stickers: StickersDep, site: str, batch: str = Query("", max_length=100),
                    text: str = Body(..., media_type="text/csv", max_length=50_000_000)
                    ) -> dict[str, Any]:
    """Import stickers (CSV ``tag_id,secret,epc,vehicle_type``) mapped to the site: one
    rules change, all or none."""
    return stickers.import_stickers(site, text, batch)


@router.get("/sites/{site}/stickers")
def summary(stickers: StickersDep, site: str) -> dict[str, Any]:
    """How many stickers the site has, in inventory and activated."""
    return stickers.summary(site)


@router.post("/tags/{epc}/unblock")
def unblock(stickers: StickersDep, epc: str, body: UnblockIn, request: Request) -> dict[str, Any]:
    """Unblock a blocked tag, with a reason that is audited (never a replaced sticker)."""
    who = getattr(request.state, "principal", None)
    return stickers.unblock(epc, body.reason, who.name if who else "staff")


@router.get("/stickers/{tag_id}")
def sticker(stickers: StickersDep, tag_id: str) -> dict[str, Any]:
    """One sticker by its printed tag id, with its lifecycle."""
    return stickers.sticker(tag_id)

