"""The sticker inventory of a society: batches of stickers imported before a carnival, each
with a printed **tag id** (what a resident types), a **secret code** (under a scratch panel),
the EPC the gate reads, the vehicle type it is made for (2W/4W) and the society it is mapped to.

An import is one transaction and one rules change: the EPCs become tags of the site, inactive
(the gate refuses them until activated), and a bad row refuses the whole batch with its line
number. The secret is kept only as a slow hash (scrypt): no route, snapshot or event carries
it, and the edge never receives it.

A sticker's life (``lifecycle`` in ``GET /api/v1/tags/{epc}``): ``inventory`` (imported, never
activated) → ``active`` → ``blocked`` (lost or stolen) → ``replaced`` (by another sticker);
a tag registered without the inventory is ``inactive`` until activated.
"""

from __future__ import annotations

import csv
import io
import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cloud.errors import CloudError
from cloud.ledger import Ledger
from cloud.refusals import Refusal
from cloud.society.rules import EPC, require_site, stored_tag, tag_rule
from cloud.storage import Database, Row, Tx, inventory, society
from cloud.storage.staff import write_audit
from shared.clock import Clock
from shared.contract import Change, TagRule, TagUpsert
from shared.passwords import STICKER_N, hash_password
from shared.vocab import TagStatus

CSV_COLUMNS = ("tag_id", "secret", "epc", "vehicle_type")
TAG_ID = re.compile(r"^[A-Za-z0-9-]{4,32}$")


KINDS = ("sticker", "fitkit")


def _parse(text: str) -> list[tuple[int, str, str, str, str, str]]:
    """(line, tag id, secret, EPC, vehicle type, kind) of each row; ``bad_row`` names the first
    bad line. A FITkit sticker (``kind`` ``fitkit``; the column is optional) has no EPC of its
    own: it binds the vehicle's FASTag when activated."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [k for k in CSV_COLUMNS if k not in (reader.fieldnames or [])]
    if missing:
        raise CloudError(422, Refusal.BAD_ROW, f"line 1: the header lacks {', '.join(missing)}")
    rows, ids, epcs = [], set(), set()
    for row in reader:
        line = reader.line_num
        tag_id = (row.get("tag_id") or "").strip()
        secret = (row.get("secret") or "").strip()
        epc = (row.get("epc") or "").strip().upper()
        vtype = (row.get("vehicle_type") or "").strip().upper()
        kind = (row.get("kind") or "sticker").strip().lower()
        if kind not in KINDS:
            why = "kind is sticker or fitkit"
        elif kind == "fitkit" and epc:
            why = "a FITkit sticker has no EPC of its own (it binds the vehicle's FASTag): " \
                  "leave epc empty"
        elif not TAG_ID.match(tag_id):
            why = "a tag id is 4–32 letters, digits or dashes"
        elif not 4 <= len(secret) <= 64:
            why = "a secret code is 4–64 characters"
        elif kind == "sticker" and not EPC.match(epc):
            why = "the EPC must be hex in whole 16-bit words (96-bit: 24 digits)"
        elif vtype not in ("2W", "4W"):
            why = "vehicle_type is 2W or 4W"
        elif tag_id in ids:
            why = f"tag id {tag_id} is twice in the file"
        elif epc and epc in epcs:
            why = f"EPC {epc} is twice in the file"
        else:
            ids.add(tag_id)
            epcs.add(epc)
            rows.append((line, tag_id, secret, epc, vtype, kind))
            continue
        raise CloudError(422, Refusal.BAD_ROW, f"line {line}: {why}")
    if not rows:
        raise CloudError(422, Refusal.BAD_ROW, "the file has no stickers")
    return rows


def _refuse_taken(c: Tx, rows: list[tuple[int, str, str, str, str, str]]) -> None:
    """``bad_row`` naming every line whose tag id was imported before or whose EPC is a
    registered tag (the first in full, the others by number)."""
    ids, known = inventory.taken(c, [r[1] for r in rows], [r[3] for r in rows if r[3]])
    if not ids and not known:
        return
    bad = [f"line {line}: tag id {tag_id} was imported before" if tag_id in ids
           else f"line {line}: EPC {epc} is a registered tag"
           for line, tag_id, _s, epc, _t, _k in rows if tag_id in ids or epc in known]
    more = [b.split(":")[0].removeprefix("line ") for b in bad[1:]]
    also = f" (also lines {', '.join(more[:20])}{', …' if len(more) > 20 else ''})" \
        if more else ""
    raise CloudError(422, Refusal.BAD_ROW, bad[0] + also)


def lifecycle(tag: Row, sticker: Row | None) -> str:
    """Where a tag is in its life: inventory, active, blocked, replaced or inactive."""
    if sticker is not None and sticker["replaced_by"]:
        return "replaced"
    if tag["status"] in (TagStatus.BLOCKED.value, TagStatus.ACTIVE.value):
        return str(tag["status"])
    if sticker is not None and sticker["activated_at"] is None:
        return "inventory"
    return "inactive"


def describe(c: Tx, tag: Row) -> dict[str, Any]:
    """What the cloud says of a tag: its row with the sticker's printed id and its lifecycle;
    never the secret."""
    sticker = inventory.by_epc(c, tag["epc"])
    return dict(tag) | {"tag_id": sticker["tag_id"] if sticker else None,
                        "lifecycle": lifecycle(tag, sticker)}


class Inventory:
    """A society's sticker batches: imports (one rules change each), reads and unblocking."""

    def __init__(self, db: Database, clock: Clock, ledger: Ledger) -> None:
        self.db = db
        self.clock = clock
        self.ledger = ledger

    def import_stickers(self, site: str, text: str, batch: str = "") -> dict[str, Any]:
        """Import a batch of stickers mapped to *site*: all of them or none. The whole file is
        checked (every row, the site, what the database holds) before the first secret is
        hashed: hashing a large batch takes all cores for minutes, and a refusal comes first."""
        rows = _parse(text)
        require_site(self.db.conn, site)
        _refuse_taken(self.db.conn, rows)
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:  # scrypt frees the GIL
            hashes = list(pool.map(lambda r: hash_password(r[2], STICKER_N), rows))
        now = self.clock.now().isoformat()
        name = batch or f"import {now}"

        def fn(c: Tx) -> list[Change]:
            _refuse_taken(c, rows)  # again: another import may have taken some meanwhile
            stickers = [r for r in rows if r[5] == "sticker"]
            society.insert_tags(c, [(epc, site, TagStatus.INACTIVE.value, None, vtype, now)
                                    for _l, _i, _s, epc, vtype, _k in stickers])
            inventory.insert(c, [(tag_id, epc or None, site, vtype, h, name, now, kind)
                                 for (_l, tag_id, _s, epc, vtype, kind), h in zip(rows, hashes,
                                                                                  strict=True)])
            return [TagUpsert(tag=TagRule(epc=r[3], site=site, status=TagStatus.INACTIVE))
                    for r in stickers]

        delta = self.ledger.change(site, fn)
        return {"site": site, "imported": len(rows), "batch": name,
                "rules_version": delta.to_version}

    def sticker(self, tag_id: str) -> dict[str, Any]:
        """One sticker by its printed id (never its secret)."""
        c = self.db.conn
        row = inventory.by_tag_id(c, tag_id)
        if row is None:
            raise CloudError(404, Refusal.UNKNOWN_STICKER, f"no sticker has tag id {tag_id}")
        tag = society.tag(c, row["epc"])
        return {"tag_id": row["tag_id"], "epc": row["epc"], "site": row["site"],
                "vehicle_type": row["vehicle_type"], "kind": row["kind"], "batch": row["batch"],
                "imported_at": row["imported_at"], "activated_at": row["activated_at"],
                "lifecycle": lifecycle(tag, row) if tag is not None
                else "inventory" if row["activated_at"] is None else "replaced"}

    def summary(self, site: str) -> dict[str, Any]:
        """How many stickers a site has, in inventory and activated."""
        require_site(self.db.conn, site)
        return {"site": site, **inventory.counts(self.db.conn, site)}

    def tag_view(self, epc: str) -> dict[str, Any]:
        """``GET /api/v1/tags/{epc}``: the tag, its sticker's tag id and its lifecycle."""
        c = self.db.conn
        return describe(c, stored_tag(c, epc))

    def unblock(self, epc: str, reason: str, by: str) -> dict[str, Any]:
        """Staff unblock a blocked tag, with a reason that is audited: active again if its vehicle
        has no other active tag, else inactive. A replaced sticker is never unblocked."""
        if not reason.strip():
            raise CloudError(422, Refusal.REASON_REQUIRED, "say why the tag is unblocked")
        site = str(stored_tag(self.db.conn, epc)["site"])

        def fn(c: Tx) -> list[Change]:
            tag = stored_tag(c, epc)
            if tag["status"] != TagStatus.BLOCKED.value:
                raise CloudError(409, Refusal.NOT_BLOCKED, f"tag {tag['epc']} is {tag['status']}")
            sticker = inventory.by_epc(c, tag["epc"])
            if sticker is not None and sticker["replaced_by"]:
                raise CloudError(409, Refusal.TAG_REPLACED,
                                 f"sticker {sticker['tag_id']} was replaced "
                                 f"by {sticker['replaced_by']}")
            others = [t for t in society.active_tags(c, site, tag["vrn"])
                      if t["epc"] != tag["epc"]] if tag["vrn"] else []
            status = TagStatus.ACTIVE if tag["vrn"] and not others else TagStatus.INACTIVE
            now = self.clock.now().isoformat()
            society.update_tag(c, tag["epc"], now, status=status.value)
            write_audit(c, now, None, by, "POST", f"/api/v1/tags/{tag['epc']}/unblock", 200,
                        f"unblocked ({status.value}): {reason.strip()}")
            row = society.tag(c, tag["epc"])
            assert row is not None
            return [TagUpsert(tag=tag_rule(row))]

        delta = self.ledger.change(site, fn)
        return self.tag_view(epc) | {"rules_version": delta.to_version}
