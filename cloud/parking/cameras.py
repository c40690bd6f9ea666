"""Cameras of a parking (seed 002): on/off, the "parking camera" flag, a name, the stream URL,
the order they are listed in, and the spaces they watch. Watching them is the paid camera
access of a subscription."""

from __future__ import annotations

import json
from typing import Any

from cloud.errors import CloudError
from cloud.parking.service import parking_row
from cloud.refusals import Refusal
from cloud.storage import Database, Row
from cloud.storage import parking as store


def camera_out(r: Row) -> dict[str, Any]:
    """A camera as the API shows it."""
    return {"id": r["id"], "parking": r["parking"], "name": r["name"], "url": r["url"],
            "enabled": bool(r["enabled"]), "parking_camera": bool(r["parking_camera"]),
            "sort": r["sort"], "spaces": json.loads(r["spaces"])}


class Cameras:
    """The cameras of parkings."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, parking: str, name: str, url: str, enabled: bool, parking_camera: bool,
            sort: int, spaces: list[int]) -> dict[str, Any]:
        """Add a camera to a parking, watching *spaces* (422 ``unknown_space``)."""
        with self.db.write() as c:
            parking_row(c, parking)
            known = store.space_numbers(c, parking)
            if set(spaces) - known:
                raise CloudError(422, Refusal.UNKNOWN_SPACE,
                                 f"spaces {sorted(set(spaces) - known)} do not exist")
            return camera_out(store.insert_camera(c, parking, name, url, enabled,
                                                  parking_camera, sort, json.dumps(spaces)))

    def of_parking(self, parking: str, space: int | None = None) -> list[dict[str, Any]]:
        """A parking's cameras in their order (404 ``unknown_parking``); with *space*, those
        watching it."""
        parking_row(self.db.conn, parking)
        rows = [camera_out(x) for x in store.cameras(self.db.conn, parking)]
        return rows if space is None else [x for x in rows if space in x["spaces"]]

    def watching(self, parking: str, space: int) -> list[dict[str, Any]]:
        """The enabled cameras of *parking* that watch *space*, in their order."""
        rows = [camera_out(x) for x in store.cameras(self.db.conn, parking, enabled_only=True)]
        return [x for x in rows if space in x["spaces"]]

    def delete(self, camera: int) -> None:
        """Remove a camera (404 ``unknown_camera``)."""
        with self.db.write() as c:
            if not store.delete_camera(c, camera):
                raise CloudError(404, Refusal.UNKNOWN_CAMERA, f"camera {camera} does not exist")
