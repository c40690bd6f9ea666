"""Owner names become residents (Alembic 0012), on SQLite and PostgreSQL: a key made for an
owner name before residents existed, and the subscriptions of that name, belong after the
upgrade to one resident (no phone yet, the name kept as its alias), whom the same key acts for
in parking and in the resident app alike; staff then give that resident a phone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from alembic import command

from cloud.app import create_app
from cloud.settings import CloudSettings
from cloud.storage import Database
from cloud.storage.database import alembic_config
from cloud.storage.residents import legacy_id
from shared.clock import SystemClock
from shared.webthread import WebThread
from tests.factories import ADMIN, open_parking


@contextmanager
def served(db: str) -> Iterator[httpx.Client]:
    web = WebThread(create_app(CloudSettings(db=db, mqtt_url=None, jobs_every_s=0,
                                             admin_key=ADMIN), SystemClock()), "127.0.0.1", 0)
    web.start()
    try:
        with httpx.Client(base_url=web.url, timeout=10, headers={"X-Api-Key": ADMIN}) as c:
            yield c
    finally:
        web.stop()


def as_key(admin: httpx.Client, key: str) -> httpx.Client:
    return httpx.Client(base_url=str(admin.base_url), timeout=10, headers={"X-Api-Key": key})


def test_an_owner_name_and_its_key_become_one_resident(cloud_db) -> None:
    with served(cloud_db) as admin:
        admin.post("/api/v1/sites", json={"id": "green-acres"}).raise_for_status()
        for g, d in (("p-in", "entry"), ("p-out", "exit")):
            admin.post("/api/v1/sites/green-acres/gates", json={"id": g, "direction": d}
                       ).raise_for_status()
        open_parking(admin, "1")
        sub = admin.post("/api/v1/parkings/p1/subscriptions", json={
            "space": 1, "owner": "kulkarni", "vehicles": [{"vrn": "MH12AB1234"}],
            "amount": 50}).json()
        key = admin.post("/api/v1/staff", json={"name": "kulkarni", "resident": "kulkarni"}
                         ).json()["key"]
    # Back to the schema before residents took owner names: the key acts for a name again.
    db = Database(cloud_db)
    with db.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0011_partners")
    with db.read() as c:
        assert c.execute("SELECT resident FROM staff WHERE name = 'kulkarni'").scalar() == \
            "kulkarni"
    assert db.upgrade()[0] == "0011_partners"
    with db.read() as c:
        row = c.execute("SELECT id, phone, name, legacy_owner FROM residents").fetchall()
        assert [tuple(r) for r in row] == [(legacy_id("kulkarni"), None, "kulkarni",
                                            "kulkarni")]
        assert c.execute("SELECT resident FROM staff WHERE name = 'kulkarni'").scalar() == \
            legacy_id("kulkarni")
    db.close()
    with served(cloud_db) as admin, as_key(admin, key) as me:
        mine = me.get("/api/v1/me").json()
        assert (mine["id"], mine["phone"], mine["legacy_owner"]) == (
            legacy_id("kulkarni"), None, "kulkarni")
        assert me.get(f"/api/v1/subscriptions/{sub['id']}").status_code == 200  # still theirs
        got = admin.patch(f"/api/v1/residents/{mine['id']}", json={"phone": "98765 43210"})
        assert got.status_code == 200 and got.json()["phone"] == "+919876543210"
        assert me.get("/api/v1/me").json()["phone"] == "+919876543210"
        # A new key for the old name is the same resident's, not a second one.
        again = admin.post("/api/v1/staff", json={"name": "k2", "resident": "kulkarni"})
        assert again.json()["resident"] == legacy_id("kulkarni")
        found = admin.get("/api/v1/residents", params={"phone": "+919876543210"})
        assert found.json()["id"] == legacy_id("kulkarni"), found.text
