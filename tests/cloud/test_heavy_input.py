"""Heavy and bad input to the cloud, tried from outside over real HTTP: bodies larger than a
route takes are refused while they stream in (the cloud's memory stays flat), a sticker file
with a clash on its last row is refused before any secret is hashed, spreadsheet cells never
start a formula, and a large residents import lets every other writer through (SQLite and
PostgreSQL)."""

from __future__ import annotations

import csv
import io
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from cloud.api.limits import RESIDENTS_CSV_MAX
from gatepost.bench.measure import rss_mb
from gatepost.devstack.broker import free_port, stop_process
from gatepost.devstack.stack import wait_until
from tests.factories import ADMIN, cloud_api, resident_app

SITE = "green-acres"
MB = 1024 * 1024


@contextmanager
def cloud_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, httpx.Client]]:
    """``gatepost cloud run`` as a process of its own (its memory is read from /proc), HTTP
    only; an admin client."""
    port = free_port()
    log = open(tmp_path / "cloud.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "gatepost.cli", "cloud", "run", "--data-dir",
         str(tmp_path / "cloud"), "--no-mqtt", "--port", str(port), "--jobs-every", "0"],
        stdout=log, stderr=log, env=os.environ | {"GATEPOST_ADMIN_KEY": ADMIN})
    c = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                     headers={"X-Api-Key": ADMIN})

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"the cloud exited with {proc.returncode}")
        try:
            return c.get("/api/v1/health").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, 30, what="the cloud to start")
        c.post("/api/v1/sites", json={"id": SITE}).raise_for_status()
        yield proc, c
    finally:
        c.close()
        stop_process(proc, 10)
        log.close()


def streamed(total: int, head: bytes = b"", chunk: int = 256 * 1024) -> Iterator[bytes]:
    """*total* bytes starting with *head*, sent in chunks without a Content-Length (the
    client never holds the body whole)."""
    yield head
    sent = len(head)
    block = b" " * chunk
    while sent < total:
        part = block[:min(chunk, total - sent)]
        sent += len(part)
        yield part


def peak_growth_mb(pid: int, call) -> tuple[float, object]:
    """How much the peak resident memory of *pid* grew during *call*, MB, and its result."""
    base, _ = rss_mb(pid)
    peak = [base]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(pid)[0])
            done.wait(0.02)

    t = threading.Thread(target=watch)
    t.start()
    try:
        got = call()
    finally:
        done.set()
        t.join()
    return round(peak[0] - base, 1), got


def too_large(r: httpx.Response) -> None:
    assert r.status_code == 413, r.text[:300]
    assert r.json()["detail"]["reason"] == "body_too_large"


@pytest.mark.timeout(240)
def test_oversize_bodies_are_refused_while_they_stream_and_memory_stays_flat(tmp_path: Path):
    with cloud_process(tmp_path) as (proc, staff):
        with resident_app(staff, site=SITE) as (_who, me):
            # A resident's 100 MB JSON body: it cost the cloud 400 MB when read whole first.
            grew, r = peak_growth_mb(proc.pid, lambda: me.post(
                "/api/v1/me/vehicles", content=streamed(100 * MB, b'{"vrn": "'),
                headers={"Content-Type": "application/json"}))
            assert grew < 30, f"the cloud grew by {grew} MB for a refused body"
            too_large(r)  # type: ignore[arg-type]
        # A 99 MB upload to the route that takes files (it cost 270-340 MB): refused past the
        # route's own, larger limit; what was read up to it is all the cloud ever held.
        grew, r = peak_growth_mb(proc.pid, lambda: staff.post(
            "/api/v1/residents/import", content=streamed(99 * MB, b"phone,name,site,flat\n"),
            headers={"Content-Type": "text/csv"}))
        assert grew < RESIDENTS_CSV_MAX / MB + 16, f"the cloud grew by {grew} MB for a " \
            "refused upload"
        too_large(r)  # type: ignore[arg-type]
        # Within its limit, an upload larger than any JSON body is still taken.
        long = "Person with a very long name " * 10
        rows = "".join(f"98{i:08d},{long}{i},{SITE},A-{i}\n" for i in range(8_000))
        r = staff.post("/api/v1/residents/import", content="phone,name,site,flat\n" + rows,
                       headers={"Content-Type": "text/csv"})
        assert r.status_code == 201 and r.json()["added"] == 8_000, r.text[:300]
        assert len(rows) > 2 * MB
        # A Content-Length over the limit is refused at once: nothing of the body is sent.
        with socket.create_connection(("127.0.0.1", staff.base_url.port or 80), 10) as s:
            s.sendall(f"POST /api/v1/sites/{SITE}/tags/bulk HTTP/1.1\r\nHost: x\r\n"
                      f"X-Api-Key: {ADMIN}\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {500 * MB}\r\n\r\n".encode())
            s.settimeout(10)
            head = ""
            while "body_too_large" not in head and (part := s.recv(4096)):
                head += part.decode(errors="replace")  # the headers and body may come apart
        assert head.startswith("HTTP/1.1 413") and "body_too_large" in head, head[:300]


@pytest.fixture
def cloud(cloud_db):
    with cloud_api(cloud_db, (SITE,)) as c:
        yield c


def test_check_report_cells_never_start_a_formula(cloud):
    # A committee seat's unit is free text: a tab or a carriage return before a formula
    # was written as it came, and a spreadsheet opening the CSV ran it.
    for n, unit in enumerate(("\t=1+1", "\r=2+2", "=3+3", "@SUM(A1)")):
        who = cloud.post("/api/v1/residents", json={
            "phone": f"98765432{n:02d}", "name": f"Member {n}",
            "flats": [{"site": SITE, "flat": "A-101"}]}).json()["id"]
        r = cloud.put(f"/api/v1/sites/{SITE}/committee/{who}", json={
            "role": "member", "flat": unit, "mandate_start": "2026-01-01"})
        assert r.status_code == 200, r.text
    text = cloud.get("/api/v1/reports/codes-check.csv", params={"sites": SITE}).text
    units = sorted(row["Unit"] for row in csv.DictReader(io.StringIO(text))
                   if row["Issue"] == "not_unit_resident")
    assert units == sorted(["'\t=1+1", "'\r=2+2", "'=3+3", "'@SUM(A1)"]), units


STICKERS = 4000  # about a minute of hashing on this machine's cores (scrypt, 16 ms each)


def sticker_file(first: int, n: int, last: str = "") -> str:
    rows = [f"GB-{i:06d},{483920 + i},E28011606000020400{i:06X},4W" for i in range(first,
                                                                                  first + n)]
    return "tag_id,secret,epc,vehicle_type\n" + "\n".join(rows + ([last] if last else [])) + \
        "\n"


def import_stickers(c: httpx.Client, text: str) -> httpx.Response:
    return c.post(f"/api/v1/sites/{SITE}/tags/import", content=text,
                  headers={"Content-Type": "text/csv"})


def test_a_sticker_file_is_checked_whole_before_any_secret_is_hashed(cloud):
    assert import_stickers(cloud, sticker_file(0, 2)).status_code == 201
    # Its last row repeats a tag id imported before, another row an EPC already registered:
    # refused with both lines, before hashing what would take all cores for a minute.
    text = sticker_file(10, STICKERS, last="GB-000001,111111,E28011606000020400FFFFFF,4W")
    text = text.replace("E2801160600002040000000B", "E28011606000020400000001")  # line 3
    t0 = time.monotonic()
    r = import_stickers(cloud, text)
    took = time.monotonic() - t0
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "bad_row", r.text
    message = r.json()["detail"]["message"]
    assert message.startswith("line 3: EPC E28011606000020400000001 is a registered tag"), \
        message
    assert f"also lines {STICKERS + 2}" in message, message
    assert took < 5, f"refused after {took:.1f} s: the secrets were hashed first"
    assert cloud.get(f"/api/v1/sites/{SITE}/stickers").json()["stickers"] == 2
    # An unknown site too is refused before hashing.
    t0 = time.monotonic()
    r = cloud.post("/api/v1/sites/nowhere/tags/import", content=sticker_file(10, STICKERS),
                   headers={"Content-Type": "text/csv"})
    assert r.status_code == 404 and time.monotonic() - t0 < 5


def staff_writes(c: httpx.Client, n: int, prefix: str) -> list[int]:
    """*n* staff writes at once (new vehicles), each on its own connection; their statuses."""
    def one(i: int) -> int:
        with httpx.Client(base_url=str(c.base_url), timeout=60,
                          headers={"X-Api-Key": ADMIN}) as own:
            return own.post(f"/api/v1/sites/{SITE}/vehicles",
                            json={"vrn": f"{prefix}{i:04d}", "type": "4W"}).status_code
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


@pytest.mark.timeout(300)
def test_a_large_residents_import_lets_every_other_writer_through(cloud_db):
    # An 18 MB import held SQLite's one writer lock for its whole length: 7 of 19 staff
    # writes meanwhile failed with 500 "database is locked".
    people = 10_000
    text = "phone,name,site,flat,role\n" + "".join(
        f"9{i:09d},Person {i},{SITE},T{i // 400}-{i % 400},owner\n" for i in range(people))
    with cloud_api(cloud_db, (SITE,)) as staff:
        done: dict[str, httpx.Response] = {}
        imp = threading.Thread(target=lambda: done.update(r=staff.post(
            "/api/v1/residents/import", content=text, headers={"Content-Type": "text/csv"},
            timeout=240)))
        imp.start()
        statuses: list[int] = []
        rounds = 0
        while imp.is_alive():  # 20 writes at once, again and again, until the import is done
            statuses += staff_writes(staff, 20, f"KA{rounds:02d}")
            rounds += 1
        imp.join()
        r = done["r"]
        assert r.status_code == 201 and r.json() == {"added": people, "updated": 0}, r.text
        failed = [s for s in statuses if s != 201]
        assert rounds >= 2 and not failed, f"{len(failed)} of {len(statuses)} writes failed"
        assert len(staff.get(f"/api/v1/sites/{SITE}/residents").json()["residents"]) == people
        assert staff.get("/api/v1/residents", params={"phone": f"9{people - 1:09d}"}
                         ).json()["flats"] == [{"site": SITE, "flat": f"T{(people - 1) // 400}-"
                                                f"{(people - 1) % 400}", "role": "owner"}]
