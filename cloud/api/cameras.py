"""Cameras of a parking (seed 002): on/off, the "parking camera" flag, a name, the stream URL,
the order they are listed in, and the spaces they watch. Watching them is the paid camera
access of a subscription; a resident sees the cameras of their own space."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import CamerasDep, SubscriptionsDep
from cloud.errors import ERROR_RESPONSES, CloudError, RowId
from cloud.refusals import Refusal
from cloud.staff import resident_of


class CameraIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    url: str = Field(description="rtsp://… or http://… stream")
    enabled: bool = True
    parking_camera: bool = False
    sort: int = 0
    spaces: list[int] = Field(default_factory=list, description="space numbers it watches")


router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


@router.post("/parkings/{pid}/cameras", status_code=201)
def add(cameras: CamerasDep, pid: str, body: CameraIn) -> dict[str, Any]:
    """Add a camera to a parking."""
    return cameras.add(pid, body.name, body.url, body.enabled, body.parking_camera, body.sort,
                       body.spaces)


@router.get("/parkings/{pid}/cameras")
def list_cameras(cameras: CamerasDep, pid: str, space: int | None = None) -> dict[str, Any]:
    """The parking's cameras in their order; ``space`` narrows to those watching it."""
    return {"cameras": cameras.of_parking(pid, space)}


@router.get("/subscriptions/{sid}/cameras")
def my_cameras(subs: SubscriptionsDep, cameras: CamerasDep, sid: str,
               request: Request) -> dict[str, Any]:
    """The enabled cameras watching a subscription's space, when camera access was paid
    (a resident may ask for those of a subscription it owns or uses)."""
    subs.acting(sid, resident_of(request), owner_only=False)
    s = subs.get(sid)
    if not s["camera"]:
        raise CloudError(403, Refusal.CAMERA_NOT_PAID, "camera access is not part of this "
                         "subscription")
    if s["standing"] not in ("active", "repaid"):
        raise CloudError(403, Refusal.SUBSCRIPTION_NOT_USABLE, f"the subscription is "
                         f"{s['standing']}")
    return {"cameras": cameras.watching(s["parking"], s["space"])}


@router.delete("/cameras/{cid}")
def delete(cameras: CamerasDep, cid: RowId) -> dict[str, Any]:
    """Remove a camera."""
    cameras.delete(cid)
    return {"deleted": cid}

