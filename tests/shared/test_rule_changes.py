"""The typed rule changes on the wire: every op keeps the JSON it had before changes were
typed, on MQTT (a delta, fields a change leaves empty left out) and in the cloud's stored change
log (every field of every op, ``null`` where absent). The literals below were captured from the
untyped ``Change`` model before it was replaced: a box of before reads a delta of now, and a box
of now reads a delta, or a stored log row, of before."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict

from cloud.ledger import log
from edge.store.cache import RulesCache
from edge.store.changes import APPLY
from edge.store.db import EdgeDB
from shared.contract import (
    OPS,
    AccountDelete,
    AccountRule,
    AccountUpsert,
    CodeConfig,
    CodeDelete,
    CodeRule,
    CodesConfig,
    CodeUpsert,
    GateRule,
    GateUpsert,
    ParkingRule,
    ParkingUpsert,
    PresenceRule,
    PresenceSet,
    RulesDelta,
    RulesSnapshot,
    ScheduleDelete,
    ScheduleRule,
    ScheduleUpsert,
    ScheduleWindow,
    SiteRule,
    SiteSettings,
    SubscriptionDelete,
    SubscriptionRule,
    SubscriptionUpsert,
    TagDelete,
    TagRule,
    TagUpsert,
    VehicleDelete,
    VehicleRule,
    VehicleUpsert,
)
from shared.vocab import Direction, TagStatus, VehicleType

T = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
H = "ab" * 32
P = "cd" * 32

# (the change built now, its JSON in a delta on MQTT, its JSON in the stored change log)
CASES = [
    (TagUpsert(tag=TagRule(epc="E200AA01", site="s1", status=TagStatus.ACTIVE, vrn="MH12AB1234",
        locked=True, locked_until=T, schedule="helpers")),
     '{"op":"tag.upsert","tag":{"epc":"E200AA01","site":"s1","status":"active","vrn":"MH12AB1234",'
     '"locked":true,"locked_until":"2026-03-01T09:30:00+05:30","schedule":"helpers"}}',
     '{"op": "tag.upsert", "tag": {"epc": "E200AA01", "site": "s1", "status": "active", "vrn":'
     ' "MH12AB1234", "locked": true, "locked_until": "2026-03-01T09:30:00+05:30", "schedule":'
     ' "helpers"}, "vehicle": null, "gate": null, "account": null, "parking": null,'
     ' "subscription": null, "presence": null, "schedule": null, "code": null, "code_config":'
     ' null, "key": null}'),
    (TagUpsert(tag=TagRule(epc="E200AA02", site="s1", status=TagStatus.INACTIVE)),
     '{"op":"tag.upsert","tag":{"epc":"E200AA02","site":"s1","status":"inactive","locked":false}}',
     '{"op": "tag.upsert", "tag": {"epc": "E200AA02", "site": "s1", "status": "inactive", "vrn":'
     ' null, "locked": false, "locked_until": null, "schedule": null}, "vehicle": null, "gate":'
     ' null, "account": null, "parking": null, "subscription": null, "presence": null, "schedule":'
     ' null, "code": null, "code_config": null, "key": null}'),
    (TagDelete(key="E200AA03"),
     '{"op":"tag.delete","key":"E200AA03"}',
     '{"op": "tag.delete", "tag": null, "vehicle": null, "gate": null, "account": null, "parking":'
     ' null, "subscription": null, "presence": null, "schedule": null, "code": null,'
     ' "code_config": null, "key": "E200AA03"}'),
    (VehicleUpsert(vehicle=VehicleRule(vrn="MH12AB1234", type=VehicleType.W4, flat="B-402",
        schedule="helpers")),
     '{"op":"vehicle.upsert","vehicle":{"vrn":"MH12AB1234","type":"4W","flat":"B-402","schedule":'
     '"helpers"}}',
     '{"op": "vehicle.upsert", "tag": null, "vehicle": {"vrn": "MH12AB1234", "type": "4W", "flat":'
     ' "B-402", "schedule": "helpers"}, "gate": null, "account": null, "parking": null,'
     ' "subscription": null, "presence": null, "schedule": null, "code": null, "code_config":'
     ' null, "key": null}'),
    (VehicleUpsert(vehicle=VehicleRule(vrn="KA01X1", type=VehicleType.W2)),
     '{"op":"vehicle.upsert","vehicle":{"vrn":"KA01X1","type":"2W"}}',
     '{"op": "vehicle.upsert", "tag": null, "vehicle": {"vrn": "KA01X1", "type": "2W", "flat":'
     ' null, "schedule": null}, "gate": null, "account": null, "parking": null, "subscription":'
     ' null, "presence": null, "schedule": null, "code": null, "code_config": null, "key": null}'),
    (VehicleDelete(key="MH12AB1234"),
     '{"op":"vehicle.delete","key":"MH12AB1234"}',
     '{"op": "vehicle.delete", "tag": null, "vehicle": null, "gate": null, "account": null,'
     ' "parking": null, "subscription": null, "presence": null, "schedule": null, "code": null,'
     ' "code_config": null, "key": "MH12AB1234"}'),
    (GateUpsert(gate=GateRule(id="main-in", direction=Direction.ENTRY, name="Main in",
        command_key=H, parking="p1")),
     '{"op":"gate.upsert","gate":{"id":"main-in","direction":"entry","name":"Main in",'
     '"command_key":"abababababababababababababababababababababababababababababababab","parking":'
     '"p1"}}',
     '{"op": "gate.upsert", "tag": null, "vehicle": null, "gate": {"id": "main-in", "direction":'
     ' "entry", "name": "Main in", "command_key":'
     ' "abababababababababababababababababababababababababababababababab", "parking": "p1"},'
     ' "account": null, "parking": null, "subscription": null, "presence": null, "schedule": null,'
     ' "code": null, "code_config": null, "key": null}'),
    (GateUpsert(gate=GateRule(id="side", direction=Direction.EXIT)),
     '{"op":"gate.upsert","gate":{"id":"side","direction":"exit","name":""}}',
     '{"op": "gate.upsert", "tag": null, "vehicle": null, "gate": {"id": "side", "direction":'
     ' "exit", "name": "", "command_key": null, "parking": null}, "account": null, "parking":'
     ' null, "subscription": null, "presence": null, "schedule": null, "code": null,'
     ' "code_config": null, "key": null}'),
    (AccountUpsert(account=AccountRule(username="asha", role="guard", pw_hash="scrypt$x")),
     '{"op":"account.upsert","account":{"username":"asha","role":"guard","pw_hash":"scrypt$x"}}',
     '{"op": "account.upsert", "tag": null, "vehicle": null, "gate": null, "account": {"username":'
     ' "asha", "role": "guard", "pw_hash": "scrypt$x"}, "parking": null, "subscription": null,'
     ' "presence": null, "schedule": null, "code": null, "code_config": null, "key": null}'),
    (AccountDelete(key="asha"),
     '{"op":"account.delete","key":"asha"}',
     '{"op": "account.delete", "tag": null, "vehicle": null, "gate": null, "account": null,'
     ' "parking": null, "subscription": null, "presence": null, "schedule": null, "code": null,'
     ' "code_config": null, "key": "asha"}'),
    (ParkingUpsert(parking=ParkingRule(id="p1", active=True)),
     '{"op":"parking.upsert","parking":{"id":"p1","active":true}}',
     '{"op": "parking.upsert", "tag": null, "vehicle": null, "gate": null, "account": null,'
     ' "parking": {"id": "p1", "active": true}, "subscription": null, "presence": null,'
     ' "schedule": null, "code": null, "code_config": null, "key": null}'),
    (SubscriptionUpsert(subscription=SubscriptionRule(
        id="sub1", parking="p1", space=7, status="active", unit="daily", start=T,
        end=T + timedelta(days=30), paid_through=T + timedelta(days=30), vrns=["MH12AB1234"],
        continued=True, debt_price=200, schedule="night")),
     '{"op":"subscription.upsert","subscription":{"id":"sub1","parking":"p1","space":7,"status":'
     '"active","unit":"daily","start":"2026-03-01T09:30:00+05:30","end":"2026-03-31T09:30:00+05:'
     '30","paid_through":"2026-03-31T09:30:00+05:30","vrns":["MH12AB1234"],"continued":true,'
     '"debt_price":200,"schedule":"night"}}',
     '{"op": "subscription.upsert", "tag": null, "vehicle": null, "gate": null, "account": null,'
     ' "parking": null, "subscription": {"id": "sub1", "parking": "p1", "space": 7, "status":'
     ' "active", "unit": "daily", "start": "2026-03-01T09:30:00+05:30", "end": "2026-03-31T09:30:'
     '00+05:30", "paid_through": "2026-03-31T09:30:00+05:30", "vrns": ["MH12AB1234"], "continued":'
     ' true, "debt_price": 200, "schedule": "night"}, "presence": null, "schedule": null, "code":'
     ' null, "code_config": null, "key": null}'),
    (SubscriptionUpsert(subscription=SubscriptionRule(
        id="sub2", parking="p1", space=8, status="overdue", unit="hourly", start=T, end=T,
        paid_through=T, vrns=[])),
     '{"op":"subscription.upsert","subscription":{"id":"sub2","parking":"p1","space":8,"status":'
     '"overdue","unit":"hourly","start":"2026-03-01T09:30:00+05:30","end":"2026-03-01T09:30:00+05:'
     '30","paid_through":"2026-03-01T09:30:00+05:30","vrns":[],"continued":false,"debt_price":0}}',
     '{"op": "subscription.upsert", "tag": null, "vehicle": null, "gate": null, "account": null,'
     ' "parking": null, "subscription": {"id": "sub2", "parking": "p1", "space": 8, "status":'
     ' "overdue", "unit": "hourly", "start": "2026-03-01T09:30:00+05:30", "end": "2026-03-01T09:'
     '30:00+05:30", "paid_through": "2026-03-01T09:30:00+05:30", "vrns": [], "continued": false,'
     ' "debt_price": 0, "schedule": null}, "presence": null, "schedule": null, "code": null,'
     ' "code_config": null, "key": null}'),
    (SubscriptionDelete(key="sub1"),
     '{"op":"subscription.delete","key":"sub1"}',
     '{"op": "subscription.delete", "tag": null, "vehicle": null, "gate": null, "account": null,'
     ' "parking": null, "subscription": null, "presence": null, "schedule": null, "code": null,'
     ' "code_config": null, "key": "sub1"}'),
    (PresenceSet(presence=PresenceRule(vrn="MH12AB1234", inside=True, parking="p1")),
     '{"op":"presence.set","presence":{"vrn":"MH12AB1234","inside":true,"parking":"p1"}}',
     '{"op": "presence.set", "tag": null, "vehicle": null, "gate": null, "account": null,'
     ' "parking": null, "subscription": null, "presence": {"vrn": "MH12AB1234", "inside": true,'
     ' "parking": "p1"}, "schedule": null, "code": null, "code_config": null, "key": null}'),
    (PresenceSet(presence=PresenceRule(vrn="KA01X1", inside=False)),
     '{"op":"presence.set","presence":{"vrn":"KA01X1","inside":false}}',
     '{"op": "presence.set", "tag": null, "vehicle": null, "gate": null, "account": null,'
     ' "parking": null, "subscription": null, "presence": {"vrn": "KA01X1", "inside": false,'
     ' "parking": null}, "schedule": null, "code": null, "code_config": null, "key": null}'),
    (ScheduleUpsert(schedule=ScheduleRule(
        name="helpers", timezone="Asia/Kolkata",
        windows=[ScheduleWindow(days=["mon", "tue"], start="07:00", end="11:00")],
        holidays=[date(2026, 1, 26)], label="Helpers")),
     '{"op":"schedule.upsert","schedule":{"name":"helpers","timezone":"Asia/Kolkata","windows":'
     '[{"days":["mon","tue"],"start":"07:00","end":"11:00"}],"holidays":["2026-01-26"],"label":'
     '"Helpers"}}',
     '{"op": "schedule.upsert", "tag": null, "vehicle": null, "gate": null, "account": null,'
     ' "parking": null, "subscription": null, "presence": null, "schedule": {"name": "helpers",'
     ' "timezone": "Asia/Kolkata", "windows": [{"days": ["mon", "tue"], "start": "07:00", "end":'
     ' "11:00"}], "holidays": ["2026-01-26"], "label": "Helpers"}, "code": null, "code_config":'
     ' null, "key": null}'),
    (ScheduleUpsert(schedule=ScheduleRule(
        name="night", timezone="Asia/Kolkata",
        windows=[ScheduleWindow(days=["sun"], start="22:00", end="06:00")])),
     '{"op":"schedule.upsert","schedule":{"name":"night","timezone":"Asia/Kolkata","windows":'
     '[{"days":["sun"],"start":"22:00","end":"06:00"}],"holidays":[],"label":""}}',
     '{"op": "schedule.upsert", "tag": null, "vehicle": null, "gate": null, "account": null,'
     ' "parking": null, "subscription": null, "presence": null, "schedule": {"name": "night",'
     ' "timezone": "Asia/Kolkata", "windows": [{"days": ["sun"], "start": "22:00", "end": "06:'
     '00"}], "holidays": [], "label": ""}, "code": null, "code_config": null, "key": null}'),
    (ScheduleDelete(key="helpers"),
     '{"op":"schedule.delete","key":"helpers"}',
     '{"op": "schedule.delete", "tag": null, "vehicle": null, "gate": null, "account": null,'
     ' "parking": null, "subscription": null, "presence": null, "schedule": null, "code": null,'
     ' "code_config": null, "key": "helpers"}'),
    (CodeUpsert(code=CodeRule(
        hash=H, site="s1", kind="visitor", status="active", valid_from=T,
        valid_until=T + timedelta(hours=4), activate_by=T, single_use=True, schedule="helpers",
        flat="B-402", vrn="MH12AB1234", label="Ravi")),
     '{"op":"code.upsert","code":{"hash":'
     '"abababababababababababababababababababababababababababababababab","site":"s1","kind":'
     '"visitor","status":"active","valid_from":"2026-03-01T09:30:00+05:30","valid_until":'
     '"2026-03-01T13:30:00+05:30","activate_by":"2026-03-01T09:30:00+05:30","single_use":true,'
     '"schedule":"helpers","flat":"B-402","vrn":"MH12AB1234","label":"Ravi"}}',
     '{"op": "code.upsert", "tag": null, "vehicle": null, "gate": null, "account": null,'
     ' "parking": null, "subscription": null, "presence": null, "schedule": null, "code": {"hash":'
     ' "abababababababababababababababababababababababababababababababab", "site": "s1", "kind":'
     ' "visitor", "status": "active", "valid_from": "2026-03-01T09:30:00+05:30", "valid_until":'
     ' "2026-03-01T13:30:00+05:30", "activate_by": "2026-03-01T09:30:00+05:30", "single_use":'
     ' true, "schedule": "helpers", "flat": "B-402", "vrn": "MH12AB1234", "label": "Ravi"},'
     ' "code_config": null, "key": null}'),
    (CodeUpsert(code=CodeRule(hash=H, site="s1", kind="person", status="issued")),
     '{"op":"code.upsert","code":{"hash":'
     '"abababababababababababababababababababababababababababababababab","site":"s1","kind":'
     '"person","status":"issued","single_use":false,"label":""}}',
     '{"op": "code.upsert", "tag": null, "vehicle": null, "gate": null, "account": null,'
     ' "parking": null, "subscription": null, "presence": null, "schedule": null, "code": {"hash":'
     ' "abababababababababababababababababababababababababababababababab", "site": "s1", "kind":'
     ' "person", "status": "issued", "valid_from": null, "valid_until": null, "activate_by": null,'
     ' "single_use": false, "schedule": null, "flat": null, "vrn": null, "label": ""},'
     ' "code_config": null, "key": null}'),
    (CodeDelete(key=H),
     '{"op":"code.delete","key":'
     '"abababababababababababababababababababababababababababababababab"}',
     '{"op": "code.delete", "tag": null, "vehicle": null, "gate": null, "account": null,'
     ' "parking": null, "subscription": null, "presence": null, "schedule": null, "code": null,'
     ' "code_config": null, "key":'
     ' "abababababababababababababababababababababababababababababababab"}'),
    (CodesConfig(code_config=CodeConfig(alphabet="digits", first_use_activates=True, salt=H,
        cost=16384, generation=2, pepper=P)),
     '{"op":"codes.config","code_config":{"alphabet":"digits","first_use_activates":true,"salt":'
     '"abababababababababababababababababababababababababababababababab","cost":16384,'
     '"generation":2,"pepper":"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"}}',
     '{"op": "codes.config", "tag": null, "vehicle": null, "gate": null, "account": null,'
     ' "parking": null, "subscription": null, "presence": null, "schedule": null, "code": null,'
     ' "code_config": {"key": null, "alphabet": "digits", "first_use_activates": true, "salt":'
     ' "abababababababababababababababababababababababababababababababab", "cost": 16384,'
     ' "generation": 2, "pepper":'
     ' "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"}, "key": null}'),
    (CodesConfig(code_config=CodeConfig(key=H, alphabet="letters")),
     '{"op":"codes.config","code_config":{"key":'
     '"abababababababababababababababababababababababababababababababab","alphabet":"letters",'
     '"first_use_activates":false}}',
     '{"op": "codes.config", "tag": null, "vehicle": null, "gate": null, "account": null,'
     ' "parking": null, "subscription": null, "presence": null, "schedule": null, "code": null,'
     ' "code_config": {"key": "abababababababababababababababababababababababababababababababab",'
     ' "alphabet": "letters", "first_use_activates": false, "salt": null, "cost": null,'
     ' "generation": null, "pepper": null}, "key": null}'),
    (CodesConfig(),
     '{"op":"codes.config"}',
     '{"op": "codes.config", "tag": null, "vehicle": null, "gate": null, "account": null,'
     ' "parking": null, "subscription": null, "presence": null, "schedule": null, "code": null,'
     ' "code_config": null, "key": null}'),
]


# The whole delta of every case above, as the cloud published it before.
DELTA = (
    '{"type":"rules.delta","site":"s1","from_version":4,"to_version":5,"changes":[{"op":'
    '"tag.upsert","tag":{"epc":"E200AA01","site":"s1","status":"active","vrn":"MH12AB1234",'
    '"locked":true,"locked_until":"2026-03-01T09:30:00+05:30","schedule":"helpers"}},{"op":'
    '"tag.upsert","tag":{"epc":"E200AA02","site":"s1","status":"inactive","locked":false}},{"op":'
    '"tag.delete","key":"E200AA03"},{"op":"vehicle.upsert","vehicle":{"vrn":"MH12AB1234","type":'
    '"4W","flat":"B-402","schedule":"helpers"}},{"op":"vehicle.upsert","vehicle":{"vrn":"KA01X1",'
    '"type":"2W"}},{"op":"vehicle.delete","key":"MH12AB1234"},{"op":"gate.upsert","gate":{"id":'
    '"main-in","direction":"entry","name":"Main in","command_key":'
    '"abababababababababababababababababababababababababababababababab","parking":"p1"}},{"op":'
    '"gate.upsert","gate":{"id":"side","direction":"exit","name":""}},{"op":"account.upsert",'
    '"account":{"username":"asha","role":"guard","pw_hash":"scrypt$x"}},{"op":"account.delete",'
    '"key":"asha"},{"op":"parking.upsert","parking":{"id":"p1","active":true}},{"op":'
    '"subscription.upsert","subscription":{"id":"sub1","parking":"p1","space":7,"status":"active",'
    '"unit":"daily","start":"2026-03-01T09:30:00+05:30","end":"2026-03-31T09:30:00+05:30",'
    '"paid_through":"2026-03-31T09:30:00+05:30","vrns":["MH12AB1234"],"continued":true,'
    '"debt_price":200,"schedule":"night"}},{"op":"subscription.upsert","subscription":{"id":'
    '"sub2","parking":"p1","space":8,"status":"overdue","unit":"hourly","start":"2026-03-01T09:30:'
    '00+05:30","end":"2026-03-01T09:30:00+05:30","paid_through":"2026-03-01T09:30:00+05:30",'
    '"vrns":[],"continued":false,"debt_price":0}},{"op":"subscription.delete","key":"sub1"},{"op":'
    '"presence.set","presence":{"vrn":"MH12AB1234","inside":true,"parking":"p1"}},{"op":'
    '"presence.set","presence":{"vrn":"KA01X1","inside":false}},{"op":"schedule.upsert",'
    '"schedule":{"name":"helpers","timezone":"Asia/Kolkata","windows":[{"days":["mon","tue"],'
    '"start":"07:00","end":"11:00"}],"holidays":["2026-01-26"],"label":"Helpers"}},{"op":'
    '"schedule.upsert","schedule":{"name":"night","timezone":"Asia/Kolkata","windows":[{"days":'
    '["sun"],"start":"22:00","end":"06:00"}],"holidays":[],"label":""}},{"op":"schedule.delete",'
    '"key":"helpers"},{"op":"code.upsert","code":{"hash":'
    '"abababababababababababababababababababababababababababababababab","site":"s1","kind":'
    '"visitor","status":"active","valid_from":"2026-03-01T09:30:00+05:30","valid_until":'
    '"2026-03-01T13:30:00+05:30","activate_by":"2026-03-01T09:30:00+05:30","single_use":true,'
    '"schedule":"helpers","flat":"B-402","vrn":"MH12AB1234","label":"Ravi"}},{"op":"code.upsert",'
    '"code":{"hash":"abababababababababababababababababababababababababababababababab","site":'
    '"s1","kind":"person","status":"issued","single_use":false,"label":""}},{"op":"code.delete",'
    '"key":"abababababababababababababababababababababababababababababababab"},{"op":'
    '"codes.config","code_config":{"alphabet":"digits","first_use_activates":true,"salt":'
    '"abababababababababababababababababababababababababababababababab","cost":16384,"generation":'
    '2,"pepper":"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"}},{"op":'
    '"codes.config","code_config":{"key":'
    '"abababababababababababababababababababababababababababababababab","alphabet":"letters",'
    '"first_use_activates":false}},{"op":"codes.config"}],"epoch":"e1"}')


class OldChange(BaseModel):
    """The untyped change of before, as a box of before still reads it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    op: Literal["tag.upsert", "tag.delete", "vehicle.upsert", "vehicle.delete", "gate.upsert",
                "account.upsert", "account.delete", "parking.upsert", "subscription.upsert",
                "subscription.delete", "presence.set", "schedule.upsert", "schedule.delete",
                "code.upsert", "code.delete", "codes.config"]
    tag: TagRule | None = None
    vehicle: VehicleRule | None = None
    gate: GateRule | None = None
    account: AccountRule | None = None
    parking: ParkingRule | None = None
    subscription: SubscriptionRule | None = None
    presence: PresenceRule | None = None
    schedule: ScheduleRule | None = None
    code: CodeRule | None = None
    code_config: CodeConfig | None = None
    key: str | None = None


class OldDelta(BaseModel):
    """A delta as a box of before reads it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["rules.delta"] = "rules.delta"
    site: str
    from_version: int
    to_version: int
    changes: list[OldChange]
    epoch: str = ""


def _delta(*changes) -> RulesDelta:
    return RulesDelta(site="s1", from_version=0, to_version=1, changes=list(changes))


def _on_mqtt(change_json: str) -> str:
    return ('{"type":"rules.delta","site":"s1","from_version":0,"to_version":1,"changes":['
            + change_json + '],"epoch":""}')


IDS = [f"{i}-{case[0].op}" for i, case in enumerate(CASES)]


@pytest.mark.parametrize(("change", "mqtt", "logged"), CASES, ids=IDS)
def test_a_change_goes_out_as_before(change, mqtt, logged) -> None:
    # What the cloud publishes (cloud.ingest.mqtt: exclude_none) and what it stores.
    assert _delta(change).model_dump_json(exclude_none=True) == _on_mqtt(mqtt)
    assert log.dumps([change]) == f"[{logged}]"


@pytest.mark.parametrize(("change", "mqtt", "logged"), CASES, ids=IDS)
def test_a_change_of_before_reads_as_its_typed_change(change, mqtt, logged) -> None:
    assert RulesDelta.model_validate_json(_on_mqtt(mqtt)).changes == [change]
    assert log.loads(f"[{logged}]") == [change]  # an old row of the stored log


@pytest.mark.parametrize(("change", "mqtt", "logged"), CASES, ids=IDS)
def test_a_box_of_before_reads_a_change_of_now(change, mqtt, logged) -> None:
    body = _delta(change).model_dump_json(exclude_none=True)
    old = OldDelta.model_validate_json(body).changes[0]
    assert old == OldChange.model_validate_json(mqtt)
    assert old.model_dump(mode="json") == json.loads(logged)


def test_a_whole_delta_goes_out_and_reads_as_before() -> None:
    delta = RulesDelta(site="s1", from_version=4, to_version=5,
                       changes=[case[0] for case in CASES], epoch="e1")
    assert delta.model_dump_json(exclude_none=True) == DELTA
    assert RulesDelta.model_validate_json(DELTA) == delta


# Ops added since the union, with what goes out on MQTT and into the stored log. A box of
# before refuses a delta that holds one; the cloud sends them only for sites whose boxes must
# be new enough (``cloud.society.site_rules``).
NEW_CASES = [
    (SiteSettings(settings=SiteRule(country="RU", locale="ru", currency="RUB",
                                    timezone="Europe/Moscow")),
     '{"op":"site.settings","settings":{"country":"RU","locale":"ru","currency":"RUB",'
     '"timezone":"Europe/Moscow"}}',
     '{"op": "site.settings", "tag": null, "vehicle": null, "gate": null, "account": null, '
     '"parking": null, "subscription": null, "presence": null, "schedule": null, "code": null, '
     '"code_config": null, "key": null, "settings": {"country": "RU", "locale": "ru", '
     '"currency": "RUB", "timezone": "Europe/Moscow"}}'),
]


@pytest.mark.parametrize(("change", "mqtt", "logged"), NEW_CASES,
                         ids=[case[0].op for case in NEW_CASES])
def test_a_new_op_goes_out_and_reads_back_as_itself(change, mqtt, logged) -> None:
    assert _delta(change).model_dump_json(exclude_none=True) == _on_mqtt(mqtt)
    assert log.dumps([change]) == f"[{logged}]"
    assert RulesDelta.model_validate_json(_on_mqtt(mqtt)).changes == [change]
    assert log.loads(f"[{logged}]") == [change]


def test_every_op_is_covered_by_the_cases_and_applied_by_one_handler() -> None:
    assert {case[0].op for case in CASES + NEW_CASES} == set(OPS)
    assert set(APPLY) == set(OPS) and len(OPS) == 17


def test_a_change_missing_what_its_op_needs_is_refused() -> None:
    for body in ('{"op":"tag.upsert"}', '{"op":"tag.delete"}', '{"op":"nothing.here"}',
                 '{"op":"tag.delete","key":"E2","tag":{"epc":"E2"}}',
                 '{"op":"tag.delete","key":"E2","what":null}'):
        with pytest.raises(ValueError):
            RulesDelta.model_validate_json(_on_mqtt(body))


def test_every_change_applies_at_the_edge(tmp_path) -> None:
    db = EdgeDB(tmp_path / "edge.sqlite")
    try:
        cache = RulesCache(db)
        cache.apply_snapshot(RulesSnapshot(site="s1", version=4, gates=[], vehicles=[], tags=[],
                                           epoch="e1"))
        assert cache.apply_delta(RulesDelta.model_validate_json(DELTA)) == "applied"
        assert cache.version("s1") == 5
        assert cache.tag("E200AA01") is not None and cache.tag("E200AA03") is None
        assert cache.vehicles("s1") == ["KA01X1"]  # MH12AB1234 deleted after
        assert cache.code_settings("s1") is None  # the last codes.config: none
    finally:
        db.close()
