"""Time-of-day access profiles: the schedule's boundaries as tables (days, midnight, holidays,
daylight-saving changes) and the gate's ``outside_schedule`` decision."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from edge.core.decide import decide
from edge.core.parking import SubRecord
from edge.core.types import Credential, GateInfo, Policy, TagRecord
from shared.contract import ScheduleRule, ScheduleUpsert, VehicleUpsert
from shared.schedule import build
from shared.vocab import Direction, Outcome, Reason, TagStatus
from tests.factories import View

IST = ZoneInfo("Asia/Kolkata")
LISBON = ZoneInfo("Europe/Lisbon")

HELPERS = build("helpers", "Asia/Kolkata",
                [(["mon", "tue", "wed", "thu", "fri", "sat"], "07:00", "19:00")],
                [date(2026, 1, 26)])
NIGHT = build("night", "Asia/Kolkata", [(["fri"], "22:00", "06:00")],
              [date(2026, 12, 25), date(2027, 1, 2)])
WHOLE_DAY = build("sun", "Asia/Kolkata", [(["sun"], "00:00", "24:00")])
# Lisbon: clocks go forward 2026-03-29 01:00 → 02:00 and back 2026-10-25 02:00 → 01:00.
EARLY = build("early", "Europe/Lisbon", [(["sun"], "01:00", "02:00")])
DAWN = build("dawn", "Europe/Lisbon", [(["sun", "mon"], "06:00", "07:00")])


def ist(*a: int) -> datetime:
    return datetime(*a, tzinfo=IST)  # type: ignore[misc]


BOUNDARIES = [
    # (name, schedule, instant, allowed)
    ("the first minute of the window", HELPERS, ist(2026, 11, 23, 7, 0), True),  # a Monday
    ("a second before it opens", HELPERS, ist(2026, 11, 23, 6, 59, 59), False),
    ("the last second of the window", HELPERS, ist(2026, 11, 28, 18, 59, 59), True),  # Sat
    ("its end is excluded", HELPERS, ist(2026, 11, 28, 19, 0), False),
    ("a day not listed", HELPERS, ist(2026, 11, 29, 10, 0), False),  # a Sunday
    ("a holiday closes it", HELPERS, ist(2026, 1, 26, 10, 0), False),
    ("the day after the holiday", HELPERS, ist(2026, 1, 27, 10, 0), True),
    ("the same instant seen from UTC", HELPERS, datetime(2026, 11, 23, 1, 30, tzinfo=UTC), True),
    ("UTC before the site's morning", HELPERS, datetime(2026, 11, 23, 1, 29, tzinfo=UTC), False),
    ("night window: its start day", NIGHT, ist(2026, 11, 27, 22, 0), True),  # a Friday
    ("night window: before its start", NIGHT, ist(2026, 11, 27, 21, 59), False),
    ("night window: past midnight", NIGHT, ist(2026, 11, 28, 5, 59), True),  # Saturday
    ("night window: its end", NIGHT, ist(2026, 11, 28, 6, 0), False),
    ("night window: Saturday night is not Friday's", NIGHT, ist(2026, 11, 28, 23, 0), False),
    ("night window: after midnight on Friday is Thursday's", NIGHT, ist(2026, 11, 27, 1, 0),
     False),
    ("a holiday closes the night that starts on it", NIGHT, ist(2026, 12, 25, 23, 0), False),
    ("and the morning after it", NIGHT, ist(2026, 12, 26, 3, 0), False),
    ("a night that starts before a holiday runs to its end", NIGHT,
     ist(2027, 1, 2, 3, 0), True),  # Fri 1 Jan 22:00 → Sat 2 Jan (a holiday) 06:00
    ("00:00–24:00: midnight", WHOLE_DAY, ist(2026, 11, 29, 0, 0), True),
    ("00:00–24:00: the last minute", WHOLE_DAY, ist(2026, 11, 29, 23, 59, 59), True),
    ("00:00–24:00: the next day", WHOLE_DAY, ist(2026, 11, 30, 0, 0), False),
    # Daylight saving (Europe/Lisbon)
    ("spring forward: the skipped hour never opens", EARLY,
     datetime(2026, 3, 29, 0, 59, tzinfo=UTC), False),  # 00:59 WET, then 02:00 WEST
    ("spring forward: the first instant after the jump", EARLY,
     datetime(2026, 3, 29, 1, 0, tzinfo=UTC), False),  # 02:00 WEST: the window has ended
    ("fall back: the first 01:30", EARLY, datetime(2026, 10, 25, 0, 30, tzinfo=UTC), True),
    ("fall back: the repeated 01:30", EARLY, datetime(2026, 10, 25, 1, 30, tzinfo=UTC), True),
    ("fall back: 02:00 after the repeat", EARLY, datetime(2026, 10, 25, 2, 0, tzinfo=UTC),
     False),
    ("summer time: 06:00 local is 05:00 UTC", DAWN, datetime(2026, 3, 30, 5, 0, tzinfo=UTC),
     True),
    ("summer time: 06:00 UTC is 07:00 local", DAWN, datetime(2026, 3, 30, 6, 0, tzinfo=UTC),
     False),
    ("winter time: 06:00 local is 06:00 UTC", DAWN, datetime(2026, 10, 26, 6, 0, tzinfo=UTC),
     True),
    ("winter time: 05:30 UTC is before the window", DAWN,
     datetime(2026, 10, 26, 5, 30, tzinfo=UTC), False),
]


@pytest.mark.parametrize("name,sched,at,allowed", BOUNDARIES, ids=[c[0] for c in BOUNDARIES])
def test_schedule_boundaries(name, sched, at, allowed) -> None:
    assert sched.allows(at) is allowed


def test_describe_says_the_schedule_in_words() -> None:
    assert HELPERS.describe() == "Mon–Sat 07:00–19:00; closed on 1 holiday"
    assert NIGHT.describe().startswith("Fri 22:00–06:00")
    assert WHOLE_DAY.describe() == "Sun 00:00–24:00"
    weekend = build("w", "UTC", [(["sat", "sun", "mon", "wed"], "10:00", "12:00")])
    assert weekend.describe() == "Mon, Wed, Sat, Sun 10:00–12:00"


@pytest.mark.parametrize("body,error", [
    ({"timezone": "Mars/Olympus"}, "IANA time zone"),
    ({"windows": [{"days": ["mon"], "start": "07:00", "end": "07:00"}]}, "same time"),
    ({"windows": [{"days": ["mon"], "start": "24:00", "end": "07:00"}]}, "only an end"),
    ({"windows": [{"days": ["mon"], "start": "7:00", "end": "19:00"}]}, "pattern"),
    ({"windows": [{"days": ["funday"], "start": "07:00", "end": "19:00"}]}, "mon"),
    ({"windows": []}, "at least 1"),
    ({"name": "bad name"}, "pattern"),
])
def test_a_bad_schedule_is_refused_with_its_reason(body, error) -> None:
    good = {"name": "helpers", "timezone": "Asia/Kolkata",
            "windows": [{"days": ["mon"], "start": "07:00", "end": "19:00"}]}
    with pytest.raises(ValidationError, match=error):
        ScheduleRule.model_validate({**good, **body})


# The gate's decision ---------------------------------------------------------------------------
EPC = "E2801160600002040000AB01"
IN = GateInfo("main-in", "green-acres", Direction.ENTRY)
OUT = GateInfo("main-out", "green-acres", Direction.EXIT)
P_IN = GateInfo("p-in", "green-acres", Direction.ENTRY)
SUNDAY = ist(2026, 11, 29, 10, 0)
MONDAY = ist(2026, 11, 30, 10, 0)


def view(tag_schedule=None, vehicle_schedule=None, held=("helpers",), inside=None) -> View:
    v = View(tags={EPC: TagRecord(EPC, "green-acres", TagStatus.ACTIVE, "MH12AB1234", False,
                                  None, tag_schedule)},
             plates=["MH12AB1234"],
             schedules={n: s for n, s in {"helpers": HELPERS, "night": NIGHT}.items()
                        if n in held})
    if vehicle_schedule:
        v.vehicle_schedules["MH12AB1234"] = vehicle_schedule
    if inside is not None:
        v.inside["MH12AB1234"] = inside
    return v


DECISIONS = [
    # (name, gate, view, now, outcome, reason)
    ("tag of a group, inside its hours", IN, view(tag_schedule="helpers"), MONDAY,
     Outcome.OPEN, Reason.TAG_VALID),
    ("tag of a group, outside its hours", IN, view(tag_schedule="helpers"), SUNDAY,
     Outcome.DENY, Reason.OUTSIDE_SCHEDULE),
    ("vehicle bound, outside its hours", IN, view(vehicle_schedule="helpers"), SUNDAY,
     Outcome.DENY, Reason.OUTSIDE_SCHEDULE),
    ("every binding must allow it", IN, view(tag_schedule="helpers", vehicle_schedule="night",
                                             held=("helpers", "night")), MONDAY,
     Outcome.DENY, Reason.OUTSIDE_SCHEDULE),
    ("a schedule never limits the exit", OUT, view(tag_schedule="helpers", inside=True), SUNDAY,
     Outcome.OPEN, Reason.TAG_VALID),
    ("a schedule the box does not hold refuses", IN, view(tag_schedule="helpers", held=()),
     MONDAY, Outcome.DENY, Reason.OUTSIDE_SCHEDULE),
    ("no binding, any time", IN, view(), SUNDAY, Outcome.OPEN, Reason.TAG_VALID),
]


@pytest.mark.parametrize("name,gate,v,now,outcome,reason", DECISIONS,
                         ids=[c[0] for c in DECISIONS])
def test_schedule_decisions(name, gate, v, now, outcome, reason) -> None:
    d = decide(Credential.tag(EPC), gate, v, now, Policy())
    assert (d.outcome, d.reason) == (outcome, reason)
    if reason is Reason.OUTSIDE_SCHEDULE:
        assert d.schedule in ("helpers", "night")
        assert d.detail


def test_the_refusal_says_which_schedule_and_the_local_time() -> None:
    d = decide(Credential.tag(EPC), IN, view(tag_schedule="helpers"), SUNDAY, Policy())
    assert d.schedule == "helpers"
    assert d.detail == "helpers: Mon–Sat 07:00–19:00; closed on 1 holiday; now Sun 10:00 " \
                       "Asia/Kolkata"


def test_a_plate_keeps_to_the_schedule_of_the_vehicles_tags() -> None:
    from edge.core.types import PlateEvidence

    ev = PlateEvidence((("MH12AB1234", 0.95),))
    v = view(tag_schedule="helpers")
    assert decide(Credential.plate(ev), IN, v, SUNDAY, Policy()).reason is \
        Reason.OUTSIDE_SCHEDULE
    assert decide(Credential.plate(ev), IN, v, MONDAY, Policy()).reason is Reason.PLATE_VALID


def test_a_parking_subscription_keeps_to_its_schedule() -> None:
    v = view()
    v.parkings["p-in"] = ("p1", True)
    start = MONDAY - timedelta(days=10)
    v.subs.append(SubRecord("S1", "p1", 7, "active", "daily", start, start + timedelta(days=30),
                            start + timedelta(days=30), False, ("MH12AB1234",), 0, "night"))
    v.schedules["night"] = NIGHT
    sunday = decide(Credential.tag(EPC), P_IN, v, SUNDAY, Policy())
    assert (sunday.reason, sunday.schedule, sunday.subscription) == \
        (Reason.OUTSIDE_SCHEDULE, "night", None)
    friday_night = ist(2026, 11, 27, 23, 0)
    assert decide(Credential.tag(EPC), P_IN, v, friday_night, Policy()).reason is \
        Reason.SUBSCRIPTION_VALID


def test_the_guard_reads_which_schedule_refused_and_every_reason_has_words() -> None:
    from edge.faces.panel.plain import plain

    assert plain({"reason": "outside_schedule", "schedule": "helpers", "direction": "entry"}) \
        == "Outside its schedule (helpers) — entry refused"
    for reason in Reason:
        assert plain({"reason": reason.value, "direction": "entry"})


def test_the_cache_sees_a_vehicle_bound_after_it_answered_none(tmp_path) -> None:
    from edge.store.cache import RulesCache
    from edge.store.db import EdgeDB
    from shared.contract import RulesDelta, RulesSnapshot, ScheduleWindow, VehicleRule
    from shared.vocab import VehicleType

    cache = RulesCache(EdgeDB(tmp_path / "edge.sqlite"))
    car = VehicleRule(vrn="KA01HL0001", type=VehicleType.W2)
    cache.apply_snapshot(RulesSnapshot(site="green-acres", version=1, gates=[], tags=[],
                                       vehicles=[car]))
    assert cache.vehicle_schedule("green-acres", "KA01HL0001") is None
    rule = ScheduleRule(name="helpers", timezone="Asia/Kolkata",
                        windows=[ScheduleWindow(days=["mon"], start="07:00", end="19:00")])
    assert cache.apply_delta(RulesDelta(site="green-acres", from_version=1, to_version=2,
                                        changes=[
        ScheduleUpsert(schedule=rule),
        VehicleUpsert(vehicle=car.model_copy(update={"schedule": "helpers"}))]
    )) == "applied"
    assert cache.vehicle_schedule("green-acres", "KA01HL0001") == "helpers"
    assert cache.vehicle_schedule("blue-oaks", "KA01HL0001") is None
    cache.apply_delta(RulesDelta(site="green-acres", from_version=2, to_version=3,
                                 changes=[VehicleUpsert(vehicle=car)]))
    assert cache.vehicle_schedule("green-acres", "KA01HL0001") is None


def test_a_plate_at_a_parking_barrier_keeps_to_its_tags_schedule() -> None:
    from edge.core.types import PlateEvidence

    v = view(tag_schedule="helpers")
    v.parkings["p-in"] = ("p1", True)
    start = MONDAY - timedelta(days=10)
    v.subs.append(SubRecord("S1", "p1", 7, "active", "daily", start, start + timedelta(days=30),
                            start + timedelta(days=30), False, ("MH12AB1234",)))
    plate = Credential.plate(PlateEvidence((("MH12AB1234", 0.95),)))
    assert decide(plate, P_IN, v, SUNDAY, Policy()).reason is Reason.OUTSIDE_SCHEDULE
    assert decide(plate, P_IN, v, MONDAY, Policy()).reason is Reason.SUBSCRIPTION_VALID
