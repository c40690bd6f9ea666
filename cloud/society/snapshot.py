"""A site's whole rule set, streamed: built from pages of rows and sent as it is built, so a
site with a million tags never sits whole in the cloud's memory.

Two shapes of one snapshot, read in one consistent view of the database:
- ``application/json``: the ``RulesSnapshot`` object, as it always was;
- ``application/x-ndjson`` (what the edge asks for): a header line (``type``
  ``rules.snapshot``, ``site``, ``version``, ``epoch``, ``gates``, ``accounts``, ``parkings``,
  and ``schedules`` and ``code_config`` when the site has them),
  then one line per ``vehicle``, ``tag``, ``subscription`` and ``code``, and a last ``end``
  line with the count of each (``codes`` only when there are), so a box can tell a whole
  snapshot from a cut one.

What a reader gets of the codes is its ``Codes`` level: a site's own box everything it decides
with (the key's pepper too), an admin the hashes and the key without its pepper (nobody can test
them), anyone else none (``docs/codes.md``, "A stolen box").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import groupby
from typing import Any, Literal

from cloud.codes import code_rule
from cloud.codes.keys import code_config
from cloud.parking.rules import gate_rule, site_parking_rules
from cloud.society.epoch import epoch_of
from cloud.society.rules import account_rule
from cloud.society.schedule_rules import site_schedules
from cloud.society.site_rules import site_rule
from cloud.storage import Database, Row
from cloud.storage import codes as codes_store
from cloud.storage import society as store
from shared.contract import SNAPSHOT_NDJSON

NDJSON = SNAPSHOT_NDJSON
PAGE = 5000
CHUNK = 500  # items joined into one piece of the response
Codes = Literal["box", "hashes", "none"]  # what a reader gets of the codes


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _vehicle(r: Row) -> dict[str, Any]:
    out = {"vrn": r["vrn"], "type": r["type"], "flat": r["flat"]}
    if r["schedule"]:  # only when bound: a box from before schedules reads the rest
        out["schedule"] = r["schedule"]
    return out


def _tag(r: Row) -> dict[str, Any]:
    # TagRule's JSON written straight from the row (rules.py's tag_rule builds the model):
    # a million of them are the snapshot's hot path.
    out = {"epc": r["epc"], "site": r["site"], "status": r["status"], "vrn": r["vrn"],
           "locked": bool(r["locked"]), "locked_until": r["locked_until"]}
    if r["schedule"]:
        out["schedule"] = r["schedule"]
    return out


def _rules(items: list[Any]) -> list[dict[str, Any]]:
    return [i.model_dump(mode="json", exclude_none=True) for i in items]


def _parts(db: Database, site: str, codes: Codes) -> Iterator[tuple[str, Any]]:
    """(kind, item) in snapshot order, from one view of the database."""
    with db.snapshot() as c:
        version = store.rules_version(c, site)
        gates = [gate_rule(r).model_dump(mode="json") for r in store.site_gates(c, site)]
        accounts = [account_rule(r).model_dump(mode="json")
                    for r in store.site_accounts(c, site)]
        parkings, subs = site_parking_rules(c, site)
        header = {"site": site, "version": version, "epoch": epoch_of(c), "gates": gates,
                  "accounts": accounts, "parkings": [p.model_dump(mode="json") for p in parkings]}
        if (settings_rule := site_rule(c, site)) is not None:  # older boxes read on
            header["settings"] = settings_rule.model_dump(mode="json", exclude_none=True)
        if schedules := site_schedules(c, site):  # only when there are: older boxes read on
            header["schedules"] = _rules(schedules)
        settings = codes_store.settings(c, site) if codes != "none" else None
        if settings is not None:
            header["code_config"] = code_config(settings, codes == "box").model_dump(
                mode="json", exclude_none=True)
        yield "header", header
        for r in store.stream_vehicles(c, site, PAGE):
            yield "vehicle", _vehicle(r)
        for r in store.stream_tags(c, site, PAGE):
            yield "tag", _tag(r)
        for s in subs:
            yield "subscription", s.model_dump(mode="json", exclude_none=True)
        for r in codes_store.gate_codes(c, site) if settings is not None else ():
            yield "code", code_rule(r).model_dump(mode="json", exclude_none=True)


def ndjson(db: Database, site: str, codes: Codes = "none") -> Iterator[str]:
    """The snapshot as NDJSON, a piece at a time."""
    counts = {"vehicles": 0, "tags": 0, "subscriptions": 0}
    lines: list[str] = []
    for kind, item in _parts(db, site, codes):
        if kind == "header":
            lines.append(_dumps({"type": "rules.snapshot", **item}))
            continue
        counts[f"{kind}s"] = counts.get(f"{kind}s", 0) + 1  # codes: only when there are
        lines.append(_dumps({kind: item}))
        if len(lines) >= CHUNK:
            yield "\n".join(lines) + "\n"
            lines = []
    lines.append(_dumps({"end": counts}))
    yield "\n".join(lines) + "\n"


def _joined(items: Iterator[Any]) -> Iterator[str]:
    """Items as the inside of a JSON array, CHUNK at a time."""
    buf: list[str] = []
    first = True
    for item in items:
        buf.append(_dumps(item))
        if len(buf) >= CHUNK:
            yield ("" if first else ",") + ",".join(buf)
            buf, first = [], False
    if buf:
        yield ("" if first else ",") + ",".join(buf)


def json_pieces(db: Database, site: str, codes: Codes = "none") -> Iterator[str]:
    """The snapshot as one ``RulesSnapshot`` JSON object, a piece at a time."""
    parts = _parts(db, site, codes)
    _, h = next(parts)
    yield f'{{"site":{_dumps(site)},"version":{h["version"]},"gates":{_dumps(h["gates"])}'
    grouped = groupby(parts, key=lambda p: p[0])
    current = next(grouped, None)
    for kind in ("vehicle", "tag", "subscription"):
        if kind == "subscription":
            yield f',"accounts":{_dumps(h["accounts"])},"parkings":{_dumps(h["parkings"])}'
            if "schedules" in h:
                yield f',"schedules":{_dumps(h["schedules"])}'
        yield f',"{kind}s":['
        if current is not None and current[0] == kind:
            yield from _joined(item for _, item in current[1])
            current = next(grouped, None)
        yield "]"
    if current is not None and current[0] == "code":  # only when there are: older boxes
        yield ',"codes":['
        yield from _joined(item for _, item in current[1])
        yield "]"
    if "code_config" in h:
        yield f',"code_config":{_dumps(h["code_config"])}'
    if "settings" in h:
        yield f',"settings":{_dumps(h["settings"])}'
    yield f',"epoch":{_dumps(h["epoch"])}}}'
