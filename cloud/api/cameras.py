"""Cameras of a parking (seed 002): on/off, the "parking camera" flag, a name, the stream URL,
the order they are listed in, and the spaces they watch. Watching them is the paid camera
access of a subscription; a resident sees the cameras of their own space."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from cloud.errors import ERROR_RESPONSES, CloudError, RowId
from cloud.parking.service import ParkingService
from cloud.parking.subscriptions import SubscriptionService
from cloud.staff import resident_of
from cloud.storage import parking as store


class CameraIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    url: str = Field(description="rtsp://… or http://… stream")
    enabled: bool = True
    parking_camera: bool = False
    sort: int = 0
    spaces: list[int] = Field(default_factory=list, description="space numbers it watches")


def _out(r: Any) -> dict[str, Any]:
    return {"id": r["id"], "parking": r["parking"], "name": r["name"], "url": r["url"],
            "enabled": bool(r["enabled"]), "parking_camera": bool(r["parking_camera"]),
            "sort": r["sort"], "spaces": json.loads(r["spaces"])}


def camera_router(parking: ParkingService, subs: SubscriptionService) -> APIRouter:
    """Cameras: ``manage_devices`` writes them (``/parkings/{id}/cameras`` is a device route)."""
    r = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
    db = parking.db

    @r.post("/parkings/{pid}/cameras", status_code=201)
    def add(pid: str, body: CameraIn) -> dict[str, Any]:
        """Add a camera to a parking."""
        with db.write() as c:
            parking.row(c, pid)
            known = store.space_numbers(c, pid)
            if set(body.spaces) - known:
                raise CloudError(422, "unknown_space",
                                 f"spaces {sorted(set(body.spaces) - known)} do not exist")
            return _out(store.insert_camera(c, pid, body.name, body.url, body.enabled,
                                            body.parking_camera, body.sort,
                                            json.dumps(body.spaces)))

    @r.get("/parkings/{pid}/cameras")
    def list_cameras(pid: str, space: int | None = None) -> dict[str, Any]:
        """The parking's cameras in their order; ``space`` narrows to those watching it."""
        parking.row(db.conn, pid)
        rows = [_out(x) for x in store.cameras(db.conn, pid)]
        if space is not None:
            rows = [x for x in rows if space in x["spaces"]]
        return {"cameras": rows}

    @r.get("/subscriptions/{sid}/cameras")
    def my_cameras(sid: str, request: Request) -> dict[str, Any]:
        """The enabled cameras watching a subscription's space, when camera access was paid
        (a resident may ask for those of a subscription it owns or uses)."""
        subs.acting(sid, resident_of(request), owner_only=False)
        s = subs.get(sid)
        if not s["camera"]:
            raise CloudError(403, "camera_not_paid", "camera access is not part of this "
                             "subscription")
        if s["standing"] not in ("active", "repaid"):
            raise CloudError(403, "subscription_not_usable", f"the subscription is "
                             f"{s['standing']}")
        rows = [_out(x) for x in store.cameras(db.conn, s["parking"], enabled_only=True)]
        return {"cameras": [x for x in rows if s["space"] in x["spaces"]]}

    @r.delete("/cameras/{cid}")
    def delete(cid: RowId) -> dict[str, Any]:
        """Remove a camera."""
        with db.write() as c:
            if not store.delete_camera(c, cid):
                raise CloudError(404, "unknown_camera", f"camera {cid} does not exist")
        return {"deleted": cid}

    return r
