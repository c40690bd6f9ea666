"""The sticker inventory over real HTTP and the CLI, on SQLite and PostgreSQL: a batch is one
rules change or nothing, a bad row is named by its line, the secret never comes back, and the
gates get the stickers as inactive tags."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from cloud.storage import Database
from shared.contract import RulesSnapshot
from shared.passwords import verify_password
from tests.factories import cloud_api

SITE = "green-acres"
CSV = """tag_id,secret,epc,vehicle_type
GA-0001,483920,E2801160600002040000C001,4W
GA-0002,120934,E2801160600002040000C002,2W
"""


@pytest.fixture
def cloud(cloud_db):
    with cloud_api(cloud_db, (SITE,)) as c:
        yield c, cloud_db


def post_csv(c: httpx.Client, text: str, site: str = SITE) -> httpx.Response:
    return c.post(f"/api/v1/sites/{site}/tags/import", content=text, params={"batch": "carnival"},
                  headers={"Content-Type": "text/csv"})


def refused(r: httpx.Response, status: int, reason: str) -> str:
    assert r.status_code == status, r.text
    assert r.json()["detail"]["reason"] == reason, r.text
    return str(r.json()["detail"]["message"])


@pytest.mark.parametrize("row,why", [
    ("G!,483920,E2801160600002040000C003,4W", "tag id"),
    ("GA-0003,1,E2801160600002040000C003,4W", "secret"),
    ("GA-0003,483920,XYZ,4W", "EPC"),
    ("GA-0003,483920,E2801160600002040000C003,3W", "vehicle_type"),
    ("GA-0001,483920,E2801160600002040000C003,4W", "twice"),
    ("GA-0003,483920,E2801160600002040000C001,4W", "twice"),
])
def test_a_bad_row_refuses_the_batch_with_its_line(cloud, row, why) -> None:
    c, _ = cloud
    msg = refused(post_csv(c, CSV + row + "\n"), 422, "bad_row")
    assert msg.startswith("line 4:") and why in msg
    assert c.get(f"/api/v1/sites/{SITE}/stickers").json()["stickers"] == 0
    assert c.get(f"/api/v1/sites/{SITE}/rules").json()["tags"] == []


def test_a_batch_is_one_change_of_inactive_tags_and_the_secret_never_comes_back(cloud) -> None:
    c, db_url = cloud
    r = post_csv(c, CSV)
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == 2 and r.json()["rules_version"] == 1
    snap = RulesSnapshot.model_validate(c.get(f"/api/v1/sites/{SITE}/rules").json())
    assert {(t.epc, t.status.value) for t in snap.tags} == {
        ("E2801160600002040000C001", "inactive"), ("E2801160600002040000C002", "inactive")}
    tag = c.get("/api/v1/tags/E2801160600002040000C002").json()
    assert (tag["tag_id"], tag["lifecycle"], tag["vehicle_type"]) == ("GA-0002", "inventory",
                                                                      "2W")
    sticker = c.get("/api/v1/stickers/GA-0001").json()
    assert sticker["lifecycle"] == "inventory" and sticker["batch"] == "carnival"
    for text in (json.dumps(tag), json.dumps(sticker), json.dumps(snap.model_dump(mode="json")),
                 c.get(f"/api/v1/sites/{SITE}/stickers").text):
        assert "483920" not in text and "120934" not in text and "scrypt" not in text
    # stored only as a slow hash, which checks the code printed under the scratch panel
    db = Database(db_url)
    try:
        stored = db.conn.execute("SELECT secret_hash FROM tag_inventory WHERE tag_id = ?",
                                 ("GA-0001",)).scalar()
    finally:
        db.close()
    assert stored.startswith("scrypt$4096$") and verify_password("483920", stored)
    assert not verify_password("483921", stored)
    # imported again: refused, nothing doubled
    assert "imported before" in refused(post_csv(c, CSV), 422, "bad_row")
    assert c.get(f"/api/v1/sites/{SITE}/stickers").json() == {
        "site": SITE, "stickers": 2, "inventory": 2, "activated": 0}
    refused(c.get("/api/v1/stickers/GA-9999"), 404, "unknown_sticker")
    refused(post_csv(c, CSV.replace("GA-", "GB-").replace("C00", "D00"), site="nowhere"), 404,
            "unknown_site")


def test_gatepost_cloud_import_tags(cloud, tmp_path) -> None:
    c, db_url = cloud
    f = tmp_path / "stickers.csv"
    f.write_text(CSV)
    out = subprocess.run([sys.executable, "-m", "gatepost.cli", "cloud", "import-tags", str(f),
                          "--site", SITE, "--db", db_url], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["imported"] == 2
    assert c.get("/api/v1/stickers/GA-0002").json()["lifecycle"] == "inventory"
    f.write_text(CSV.replace("4W", "5W"))
    again = subprocess.run([sys.executable, "-m", "gatepost.cli", "cloud", "import-tags", str(f),
                            "--site", SITE, "--db", db_url], capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 2 and "bad_row: line 2" in again.stderr
