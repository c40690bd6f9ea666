"""Residents over real HTTP, on SQLite and PostgreSQL: one identity per phone number (E.164),
flats in societies, vehicles of theirs, a CSV import that is all or nothing, and a removal that
keeps their records."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import cloud_api


@pytest.fixture
def api(cloud_db):
    with cloud_api(cloud_db, ("green-acres", "blue-oaks")) as c:
        c.post("/api/v1/sites/green-acres/vehicles", json={"vrn": "MH12AB1234"}
               ).raise_for_status()
        yield c


def refused(r: httpx.Response, status: int, reason: str) -> str:
    assert r.status_code == status, r.text
    assert r.json()["detail"]["reason"] == reason, r.text
    return str(r.json()["detail"]["message"])


def test_a_resident_is_one_phone_number_however_it_is_typed(api) -> None:
    r = api.post("/api/v1/residents", json={"phone": "98765 43210", "name": "Asha Rao", "flats": [
        {"site": "green-acres", "flat": "B-402"}, {"site": "blue-oaks", "flat": "7",
                                                   "role": "tenant"}]})
    assert r.status_code == 201, r.text
    asha = r.json()
    assert asha["phone"] == "+919876543210" and asha["id"].startswith("R-")
    assert asha["flats"] == [{"site": "blue-oaks", "flat": "7", "role": "tenant"},
                             {"site": "green-acres", "flat": "B-402", "role": "owner"}]
    refused(api.post("/api/v1/residents", json={"phone": "+91-98765-43210", "name": "Someone"}),
            409, "resident_exists")
    assert api.get("/api/v1/residents", params={"phone": "09876543210"}).json()["id"] == \
        asha["id"]
    refused(api.post("/api/v1/residents", json={"phone": "12345", "name": "X"}), 422,
            "invalid_phone")
    refused(api.post("/api/v1/residents", json={"phone": "9876500001", "name": " "}), 422,
            "bad_resident")
    refused(api.post("/api/v1/residents", json={"phone": "9876500001", "name": "X", "flats": [
        {"site": "green-acres", "flat": "1", "role": "landlord"}]}), 422, "bad_resident")
    refused(api.post("/api/v1/residents", json={"phone": "9876500001", "name": "X", "flats": [
        {"site": "nowhere", "flat": "1"}]}), 404, "unknown_site")
    listed = api.get("/api/v1/sites/green-acres/residents").json()["residents"]
    assert [(x["name"], x["flat"]) for x in listed] == [("Asha Rao", "B-402")]


def test_a_vehicle_is_a_residents_only_where_they_live(api) -> None:
    asha = api.post("/api/v1/residents", json={"phone": "9876543210", "name": "Asha", "flats": [
        {"site": "green-acres", "flat": "B-402"}]}).json()
    ravi = api.post("/api/v1/residents", json={"phone": "9876543211", "name": "Ravi", "flats": [
        {"site": "blue-oaks", "flat": "7"}]}).json()
    url = "/api/v1/sites/green-acres/vehicles/mh12ab1234/resident"
    refused(api.put(url, json={"resident": ravi["id"]}), 409, "not_a_resident_here")
    refused(api.put(url, json={"resident": "R-NOBODY"}), 404, "unknown_resident")
    refused(api.put("/api/v1/sites/green-acres/vehicles/DL3CAF0001/resident",
                    json={"resident": asha["id"]}), 404, "unknown_vehicle")
    assert api.put(url, json={"resident": asha["id"], "make": "Maruti", "model": "Swift"}
                   ).status_code == 200
    got = api.get(f"/api/v1/residents/{asha['id']}").json()
    assert got["vehicles"] == [{"site": "green-acres", "vrn": "MH12AB1234", "type": "4W",
                                "make": "Maruti", "model": "Swift", "flat": None}]


def test_removing_a_resident_unlinks_and_keeps_the_record(api) -> None:
    asha = api.post("/api/v1/residents", json={"phone": "9876543210", "name": "Asha", "flats": [
        {"site": "green-acres", "flat": "B-402"}]}).json()
    api.put("/api/v1/sites/green-acres/vehicles/MH12AB1234/resident",
            json={"resident": asha["id"]}).raise_for_status()
    gone = api.delete(f"/api/v1/residents/{asha['id']}").json()
    assert gone["removed_at"] and gone["flats"] == [] and gone["vehicles"] == []
    assert gone["phone"] == "+919876543210"
    refused(api.delete(f"/api/v1/residents/{asha['id']}"), 404, "unknown_resident")
    # the number is free again for a new resident, the old record stays readable
    again = api.post("/api/v1/residents", json={"phone": "9876543210", "name": "Asha R"})
    assert again.status_code == 201 and again.json()["id"] != asha["id"]
    assert api.get(f"/api/v1/residents/{asha['id']}").json()["name"] == "Asha"


CSV = """phone,name,site,flat,role
98765 43210,Asha Rao,green-acres,B-402,owner
98765 43210,Asha Rao,blue-oaks,7,tenant
+91 98765 43211,Ravi Kumar,green-acres,C-101,
"""


def test_a_csv_import_is_all_or_nothing_and_names_the_bad_line(api) -> None:
    bad = CSV + "12345,Nobody,green-acres,D-1,owner\n"
    msg = refused(api.post("/api/v1/residents/import", content=bad,
                           headers={"Content-Type": "text/csv"}), 422, "bad_row")
    assert msg.startswith("line 5:")
    assert api.get("/api/v1/sites/green-acres/residents").json()["residents"] == []
    msg = refused(api.post("/api/v1/residents/import", content="phone,name\n1,2\n",
                           headers={"Content-Type": "text/csv"}), 422, "bad_row")
    assert "site" in msg and "flat" in msg
    r = api.post("/api/v1/residents/import", content=CSV, headers={"Content-Type": "text/csv"})
    assert r.status_code == 201 and r.json() == {"added": 2, "updated": 0}
    asha = api.get("/api/v1/residents", params={"phone": "9876543210"}).json()
    assert [f["site"] for f in asha["flats"]] == ["blue-oaks", "green-acres"]
    again = api.post("/api/v1/residents/import", content=CSV.replace("Asha Rao", "Asha R Rao"),
                     headers={"Content-Type": "text/csv"})
    assert again.json() == {"added": 0, "updated": 2}
    assert api.get(f"/api/v1/residents/{asha['id']}").json()["name"] == "Asha R Rao"
