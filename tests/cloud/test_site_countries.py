"""A site's country, language, currency and zone through the API, and its plates validated as
that country's: a Moscow parking takes Russian plates typed in Cyrillic or Latin as one
vehicle, a São Paulo condominium takes Mercosul plates, an Indian society refuses both; on
SQLite and PostgreSQL. Sites of before become Indian, English and rupees by migration."""

from __future__ import annotations

import sqlite3
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import command

from cloud.storage.database import Database, alembic_config
from tests.factories import parking_api

MOSCOW, SAO_PAULO, SOCIETY = "moscow-park", "sp-condo", "green-acres"


def moscow_parking(api) -> str:
    """The Moscow site (country RU) with its parking tverskaya at two gates, active, spaces
    1–4 at 300 a day; the parking's URL."""
    api.ok("POST", "/api/v1/sites", 201, json={"id": MOSCOW, "country": "RU"})
    for g, d in (("in", "entry"), ("out", "exit")):
        api.ok("POST", f"/api/v1/sites/{MOSCOW}/gates", 201, json={"id": g, "direction": d})
    api.ok("POST", f"/api/v1/sites/{MOSCOW}/parkings", 201,
           json={"id": "tverskaya", "name": "Тверская"})
    for g in ("in", "out"):
        api.ok("PUT", f"/api/v1/sites/{MOSCOW}/gates/{g}/parking", json={"parking": "tverskaya"})
    p = "/api/v1/parkings/tverskaya"
    api.ok("POST", f"{p}/activate")
    api.ok("POST", f"{p}/spaces", 201, json={"numbers": "1..4", "size": "small"})
    api.ok("POST", f"{p}/tariffs", 201, json={"size": "small", "lower": 1, "upper": 30,
                                              "price": 300})
    return p


def test_a_sites_country_brings_its_language_currency_and_zone(tmp_path, cloud_db):
    with parking_api(tmp_path, cloud_db) as api:
        site = api.ok("GET", f"/api/v1/sites/{SOCIETY}")
        assert site.pop("rules_version") > 0 and site == {
            "id": SOCIETY, "name": SOCIETY, "timezone": None, "country": "IN", "locale": "en",
            "currency": "INR"}
        made = api.ok("POST", "/api/v1/sites", 201, json={"id": MOSCOW, "country": "ru"})
        assert (made["country"], made["locale"], made["currency"], made["timezone"]) == (
            "RU", "ru", "RUB", "Europe/Moscow")
        made = api.ok("POST", "/api/v1/sites", 201, json={
            "id": SAO_PAULO, "country": "BR", "locale": "en", "timezone": "America/Manaus"})
        assert (made["locale"], made["currency"], made["timezone"]) == (
            "en", "BRL", "America/Manaus")
        assert api.ok("GET", f"/api/v1/sites/{SAO_PAULO}")["timezone"] == "America/Manaus"
        # Changed later: a new country brings its language and currency unless given.
        assert api.ok("PATCH", f"/api/v1/sites/{MOSCOW}", json={"locale": "en"})["currency"] \
            == "RUB"
        changed = api.ok("PATCH", f"/api/v1/sites/{SAO_PAULO}", json={"country": "RU"})
        assert (changed["country"], changed["locale"], changed["currency"]) == ("RU", "ru",
                                                                                "RUB")
        for body, reason in (({"id": "x1", "country": "XX"}, "invalid_country"),
                             ({"id": "x2", "locale": "fr"}, "invalid_locale"),
                             ({"id": "x3", "currency": "ZZZ"}, "invalid_currency"),
                             ({"id": "x4", "country": "RU", "timezone": "MSK"},
                              "invalid_timezone")):
            api.refused("POST", "/api/v1/sites", 422, reason, json=body)
        api.refused("PATCH", f"/api/v1/sites/{MOSCOW}", 422, "invalid_country",
                    json={"country": "RUS"})
        api.refused("GET", "/api/v1/sites/nowhere", 404, "unknown_site")
        api.refused("GET", "/api/v1/sites/x1", 404, "unknown_site")  # nothing was made


def test_plates_are_validated_as_the_sites_countrys(tmp_path, cloud_db):
    with parking_api(tmp_path, cloud_db) as api:
        api.ok("POST", "/api/v1/sites", 201, json={"id": MOSCOW, "country": "RU"})
        api.ok("POST", "/api/v1/sites", 201, json={"id": SAO_PAULO, "country": "BR"})
        # Typed in Cyrillic, kept in Latin: the camera's reading of the same plate.
        api.ok("POST", f"/api/v1/sites/{MOSCOW}/vehicles", 201, json={"vrn": "А123ВС77"})
        api.refused("POST", f"/api/v1/sites/{MOSCOW}/vehicles", 409, "vehicle_exists",
                    json={"vrn": "a123bc77"})
        api.ok("POST", f"/api/v1/sites/{MOSCOW}/vehicles/bulk", 201, json={"vehicles": [
            {"vrn": "ВМ123499"}, {"vrn": "ЕК12377"}]})
        rules = api.ok("GET", f"/api/v1/sites/{MOSCOW}/rules")
        assert sorted(v["vrn"] for v in rules["vehicles"]) == ["A123BC77", "BM123499",
                                                               "EK12377"]
        message = api.refused("POST", f"/api/v1/sites/{MOSCOW}/vehicles", 422, "invalid_vrn",
                              json={"vrn": "MH12AB1234"})
        assert "Russian" in message and "А123ВС77" in message
        api.refused("POST", f"/api/v1/sites/{MOSCOW}/vehicles/bulk", 422, "invalid_vrn",
                    json={"vehicles": [{"vrn": "0862YY78"}]})
        api.ok("POST", f"/api/v1/sites/{SAO_PAULO}/vehicles", 201, json={"vrn": "BRA2E19"})
        api.ok("POST", f"/api/v1/sites/{SAO_PAULO}/vehicles", 201, json={"vrn": "ABC-1234"})
        assert "Brazilian" in api.refused("POST", f"/api/v1/sites/{SAO_PAULO}/vehicles", 422,
                                          "invalid_vrn", json={"vrn": "A123BC77"})
        # The Indian society as before: its own plates only.
        api.ok("POST", f"/api/v1/sites/{SOCIETY}/vehicles", 201, json={"vrn": "MH12AB1234"})
        assert "Indian" in api.refused("POST", f"/api/v1/sites/{SOCIETY}/vehicles", 422,
                                       "invalid_vrn", json={"vrn": "А123ВС77"})


def test_a_moscow_parkings_subscription_takes_russian_plates(tmp_path, cloud_db):
    with parking_api(tmp_path, cloud_db) as api:
        p = moscow_parking(api)
        sub = api.ok("POST", f"{p}/subscriptions", 201, json={
            "space": 1, "owner": "Иванов", "vehicles": [{"vrn": "О862УУ78"}], "amount": 900})
        assert [v["vrn"] for v in sub["vehicles"]] == ["O862YY78"]
        api.refused("POST", f"{p}/subscriptions", 422, "bad_vrn", json={
            "space": 2, "owner": "Петров", "vehicles": [{"vrn": "MH12AB1234"}], "amount": 900})
        added = api.ok("POST", f"/api/v1/subscriptions/{sub['id']}/vehicles", 201,
                       json={"vrn": "а123вс777"})
        assert {v["vrn"] for v in added["vehicles"]} == {"O862YY78", "A123BC777"}


def test_sites_of_before_become_indian_in_english_and_rupees(tmp_path):
    path = tmp_path / "cloud.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0020_code_hardening")
        conn.execute(sa.text("INSERT INTO sites(id, name, created_at, timezone) "
                             "VALUES ('old', 'Old', 'now', 'Asia/Kolkata')"))
    engine.dispose()
    Database(path).close()  # migrates to the newest schema
    with sqlite3.connect(path) as c:
        assert c.execute("SELECT country, locale, currency, timezone FROM sites").fetchall() \
            == [("IN", "en", "INR", "Asia/Kolkata")]


def test_a_residents_number_is_read_as_one_of_their_sites_country(tmp_path, cloud_db):
    with parking_api(tmp_path, cloud_db) as api:
        api.ok("POST", "/api/v1/sites", 201, json={"id": MOSCOW, "country": "RU"})
        api.ok("POST", "/api/v1/sites", 201, json={"id": SAO_PAULO, "country": "BR"})
        ivan = api.ok("POST", "/api/v1/residents", 201, json={
            "phone": "8 (916) 123-45-67", "name": "Иван", "flats": [{"site": MOSCOW,
                                                                    "flat": "12"}]})
        assert ivan["phone"] == "+79161234567"
        assert api.ok("PATCH", f"/api/v1/residents/{ivan['id']}",
                      json={"phone": "8 916 765 43 21"})["phone"] == "+79167654321"
        api.ok("POST", "/api/v1/residents/import", 201, headers={"Content-Type": "text/csv"},
               content="phone,name,site,flat,role\n"
                       f"(11) 91234-5678,Ana,{SAO_PAULO},101,owner\n"
                       f"98765 43210,Asha,{SOCIETY},B-402,owner\n"
                       "+7 916 000-00-01,Olga,sp-condo,102,tenant\n".replace("sp-condo",
                                                                              SAO_PAULO))
        phones = {r["name"]: r["phone"] for r in api.ok(
            "GET", f"/api/v1/sites/{SAO_PAULO}/residents")["residents"]}
        assert phones == {"Ana": "+5511912345678", "Olga": "+79160000001"}
        assert [r["phone"] for r in api.ok("GET", f"/api/v1/sites/{SOCIETY}/residents")[
            "residents"] if r["name"] == "Asha"] == ["+919876543210"]


def test_the_boxes_get_the_sites_settings_in_every_snapshot(tmp_path, cloud_db):
    import json

    with parking_api(tmp_path, cloud_db) as api:
        api.ok("POST", "/api/v1/sites", 201, json={"id": MOSCOW, "country": "RU"})
        moscow = {"country": "RU", "locale": "ru", "currency": "RUB", "timezone": "Europe/Moscow"}
        assert api.ok("GET", f"/api/v1/sites/{MOSCOW}/rules")["settings"] == moscow
        before = api.ok("GET", f"/api/v1/sites/{MOSCOW}/rules")["version"]
        api.ok("PATCH", f"/api/v1/sites/{MOSCOW}", json={"locale": "en"})
        api.ok("PUT", f"/api/v1/sites/{MOSCOW}/timezone", json={"timezone": "Europe/Samara"})
        snap = api.ok("GET", f"/api/v1/sites/{MOSCOW}/rules")
        assert snap["version"] == before + 2  # each change is a rules change the boxes get
        assert snap["settings"] == moscow | {"locale": "en", "timezone": "Europe/Samara"}
        r = api.c.get(f"/api/v1/sites/{MOSCOW}/rules",
                      headers={"Accept": "application/x-ndjson"})
        head = json.loads(r.text.splitlines()[0])
        assert head["settings"] == snap["settings"]
        # A site of the settings of before sends none: its boxes may be older than them.
        assert "settings" not in api.ok("GET", f"/api/v1/sites/{SOCIETY}/rules")
        version = api.ok("GET", f"/api/v1/sites/{SOCIETY}/rules")["version"]
        api.ok("PATCH", f"/api/v1/sites/{SOCIETY}", json={"country": "IN"})
        assert api.ok("GET", f"/api/v1/sites/{SOCIETY}/rules")["version"] == version
        api.ok("PATCH", f"/api/v1/sites/{SOCIETY}", json={"locale": "hi"})
        assert api.ok("GET", f"/api/v1/sites/{SOCIETY}/rules")["settings"] == {
            "country": "IN", "locale": "hi", "currency": "INR"}


def test_a_moscow_parkings_reports_are_on_moscow_time_in_roubles(tmp_path, cloud_db):
    import io
    from datetime import timedelta

    from openpyxl import load_workbook

    from tests.factories import T0

    with parking_api(tmp_path, cloud_db) as api:
        p = moscow_parking(api)
        api.ok("POST", f"{p}/subscriptions", 201, json={
            "space": 1, "owner": "Иванов", "vehicles": [{"vrn": "Е006КС13"}], "amount": 900})
        api.ok("PUT", f"{p}/presence/E006KC13", json={"inside": True})

        def sheet(url: str, **params) -> list[tuple]:
            r = api.c.get(url, params=params)
            assert r.status_code == 200, r.text
            return list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))

        moscow_t0 = T0.astimezone(ZoneInfo("Europe/Moscow")).replace(tzinfo=None)  # 07:30
        subs = sheet("/api/v1/reports/subscriptions.xlsx", parkings="tverskaya")
        assert subs[0][5:10] == ("Start (Europe/Moscow)", "End (Europe/Moscow)",
                                 "Amount paid (RUB)", "Tariff type", "Created (Europe/Moscow)")
        assert abs(subs[1][5] - moscow_t0) < timedelta(minutes=5) and subs[1][7] == 900
        occupancy = sheet("/api/v1/reports/occupancy.xlsx", parking="tverskaya")
        assert occupancy[0][0] == "Time (Europe/Moscow)"
        assert abs(occupancy[1][0] - moscow_t0) < timedelta(minutes=5)
        # Parkings of sites on different clocks: UTC, and no currency, named as such.
        mixed = sheet("/api/v1/reports/subscriptions.xlsx", parkings="tverskaya,tower-b")
        assert mixed[0][5] == "Start (UTC)" and mixed[0][7] == "Amount paid"
