"""The cloud API against its own OpenAPI schema: schemathesis generates requests for every
route (bounded in examples, with a fixed seed so a failure can be replayed) against the real
cloud process over HTTP, on SQLite and PostgreSQL, and finds no server error, no undocumented
status and no answer outside the documented schema. Its coverage phase (about 3,900
boundary and negative cases, the run's longest part) runs on PostgreSQL, the fleet's database,
where such values differ most (text with NUL bytes, integers past 64 bits); on SQLite the
examples, fuzzing and stateful phases run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gatepost.devstack.broker import free_port
from gatepost.devstack.stack import wait_until

KEY = "gpk_schemathesis_admin_key_1"
SEED = "51131510105117452347199088055934414600"


@pytest.mark.timeout(300)
def test_every_route_answers_as_its_schema_says(tmp_path: Path, cloud_db):
    port = free_port()
    log = open(tmp_path / "cloud.log", "wb")  # noqa: SIM115
    cloud = subprocess.Popen(
        [sys.executable, "-m", "gatepost.cli", "cloud", "run", "--db", cloud_db, "--no-mqtt",
         "--port", str(port), "--jobs-every", "0", "--data-dir", str(tmp_path)],
        env=dict(os.environ, GATEPOST_ADMIN_KEY=KEY), stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/api/v1/health").status_code == 200, 60,
                   what="the cloud")
        st = Path(sys.executable).parent / "schemathesis"
        phases = "examples,coverage,fuzzing,stateful" if cloud_db.startswith("postgresql") \
            else "examples,fuzzing,stateful"
        run = subprocess.run(
            [str(st), "run", f"{base}/openapi.json", "-H", f"X-Api-Key: {KEY}",
             "--max-examples", "6", "--seed", SEED, "--phases", phases, "--checks",
             "not_a_server_error,status_code_conformance,response_schema_conformance"],
            capture_output=True, text=True, timeout=240, cwd=tmp_path)  # its cache goes there
        assert run.returncode == 0, run.stdout[-4000:] + (tmp_path / "cloud.log").read_text(
            errors="replace")[-2000:]
        assert " passed" in run.stdout and "failure" not in run.stdout.split("SUMMARY")[-1]
    finally:
        cloud.terminate()
        cloud.wait(10)
        log.close()
