"""`gatepost bench gate --json` and `gatepost bench panel --json` print their public JSON
objects (small runs)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.stack


@pytest.mark.timeout(180)
def test_bench_gate_prints_its_contract():
    p = subprocess.run([sys.executable, "-m", "gatepost.cli", "bench", "gate", "--reads", "40",
                        "--tags", "300", "--json"], capture_output=True, text=True, timeout=170)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["reads"] == 40 and out["tags_cached"] == 300 and out["failures"] == 0
    assert set(out["latency_ms"]) >= {"p50", "p99", "max"}
    assert set(out["floor_ms"]) >= {"p50", "p99"}
    assert 0 < out["latency_ms"]["p50"] <= out["latency_ms"]["p99"] <= out["latency_ms"]["max"]
    assert out["cache_lookup_us"]["p50"] > 0
    assert 0 < out["rss_mb"] <= out["peak_rss_mb"]
    assert 0 < out["cloud_rss_mb"] <= out["cloud_peak_rss_mb"]


@pytest.mark.timeout(180)
def test_bench_panel_prints_its_contract():
    p = subprocess.run([sys.executable, "-m", "gatepost.cli", "bench", "panel", "--reads", "10",
                        "--opens", "3", "--json"], capture_output=True, text=True, timeout=170)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["bench"] == "panel" and out["reads"] == 10 and out["opens"] == 3
    assert out["missed"] == 0 and out["remote_failed"] == 0
    for key in ("decision_to_visible_ms", "remote_open_to_pulse_ms"):
        assert set(out[key]) >= {"p50", "p99", "max"}
        assert 0 < out[key]["p50"] <= out[key]["p99"] <= out[key]["max"]


@pytest.mark.timeout(180)
def test_bench_gate_with_parking_barriers():
    p = subprocess.run([sys.executable, "-m", "gatepost.cli", "bench", "gate", "--reads", "20",
                        "--tags", "300", "--subscriptions", "300", "--json"],
                       capture_output=True, text=True, timeout=170)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["subscriptions_cached"] == 300 and out["failures"] == 0
    assert out["decisions"] == {"subscription_valid": 20}


def test_bench_cloud_jobs_prints_its_contract():
    p = subprocess.run([sys.executable, "-m", "gatepost.cli", "bench", "cloud-jobs",
                        "--subscriptions", "500", "--runs", "2", "--json"],
                       capture_output=True, text=True, timeout=170)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["bench"] == "cloud-jobs" and out["subscriptions"] == 500
    assert out["transition_moved_when_idle"] == {}
    assert out["transition_moved_all_end"] == {"archive": 450, "overdue": 50}
    for key in ("transition_ms", "report_subscriptions_ms", "report_occupancy_ms"):
        assert 0 < out[key]["p50"] <= out[key]["max"]
    assert out["report_occupancy_rows"] == 500 and out["report_subscriptions_bytes"] > 0


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("db", "workers"), [("sqlite", 1), ("postgresql", 2)])
def test_bench_ingest_prints_its_contract(db, workers):
    p = subprocess.run([sys.executable, "-m", "gatepost.cli", "bench", "ingest", "--edges",
                        "12", "--rate", "600", "--seconds", "2", "--ceiling-s", "1", "--db", db,
                        "--workers", str(workers), "--json"],
                       capture_output=True, text=True, timeout=230)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["bench"] == "ingest" and out["db"] == db and out["workers"] == workers
    assert out["edges"] == 12 and out["exactly_once"] is True
    assert out["events_stored"] == out["events_published"] > 0
    assert out["lost"] == 0 and out["duplicated"] == 0
    assert out["events_per_s"] > 0 and out["broker_ceiling_per_s"] > 0
    assert 0 < out["ack_ms"]["p50"] <= out["ack_ms"]["p99"]


@pytest.mark.timeout(180)
def test_bench_fanout_prints_its_contract():
    p = subprocess.run([sys.executable, "-m", "gatepost.cli", "bench", "fanout", "--boxes", "8",
                        "--changes", "5", "--db", "sqlite", "--json"],
                       capture_output=True, text=True, timeout=170)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["bench"] == "fanout" and out["boxes"] == 8 and out["changes"] == 5
    assert out["missed"] == 0 and out["boxes_complete"] == 8
    assert 0 < out["all_updated_ms"]["p50"] <= out["all_updated_ms"]["p99"]


@pytest.mark.timeout(300)
def test_bench_offline_prints_its_contract():
    """A small run: the box holds a backlog with its uplink cut, then delivers it exactly
    once, in far fewer bytes a queued event than its data took before the event log."""
    p = subprocess.run([sys.executable, "-m", "gatepost.cli", "bench", "offline", "--events",
                        "1000", "--reads", "20", "--json"], capture_output=True, text=True,
                       timeout=280)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["bench"] == "offline" and out["events"] == 1000
    assert out["events_held"] >= 1000 and out["stored_once"] == out["events_issued"]
    assert out["lost"] == 0 and out["duplicated"] == 0 and out["exactly_once"] is True
    assert 0 < out["bytes_per_event"] <= 300
    assert out["drain_s"] > 0 and out["drain_events_per_s"] > 0
    assert 0 < out["edge_rss_mb"] <= out["edge_peak_rss_mb"]
    assert set(out["gate_ms_draining"]) >= {"p50", "p99", "max"}
    assert out["gate_failures"] == {"idle": 0, "offline": 0, "draining": 0}


def test_bench_snapshot_prints_its_contract():
    p = subprocess.run([sys.executable, "-m", "gatepost.cli", "bench", "snapshot", "--tags",
                        "5000", "--json"], capture_output=True, text=True, timeout=170)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["bench"] == "snapshot" and out["edge_tags_cached"] == 5000
    assert set(out["snapshot_mb"]) == {"json", "ndjson"} and out["edge_take_s"] > 0
    assert 0 < out["cloud_idle_rss_mb"] <= out["cloud_peak_rss_mb"]
    assert 0 < out["edge_rss_mb"] <= out["edge_peak_rss_mb"]


@pytest.mark.timeout(300)
def test_bench_bulk_prints_its_contract():
    p = subprocess.run([sys.executable, "-m", "gatepost.cli", "bench", "bulk", "--tags", "3000",
                        "--change", "2000", "--runs", "2", "--json"], capture_output=True,
                       text=True, timeout=280)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["bench"] == "bulk" and out["change_rows"] == 2000 and out["runs"] == 2
    assert out["tags_cached"] == 5000 and out["as_delta"] is True  # one delta each, no snapshot
    assert 0 < out["api_s"]["p50"] <= out["edge_s"]["p50"] <= out["edge_s"]["max"]


@pytest.mark.timeout(240)
def test_bench_onboarding_prints_its_contract():
    p = subprocess.run([sys.executable, "-m", "gatepost.cli", "bench", "onboarding",
                        "--activations", "4", "--stickers", "50", "--forward-events", "300",
                        "--partner-down-s", "1", "--json"],
                       capture_output=True, text=True, timeout=230)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["bench"] == "onboarding" and out["activations"] == 4 and out["failed"] == 0
    lat = out["activation_to_open_ms"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["max"]
    fw = out["forwarding"]  # the partner was down, then back: every event once, in order
    assert (fw["events"], fw["vehicles"], fw["opted_out_vehicles"]) == (300, 4, 1)
    assert fw["forwarded"] == fw["expected"] == 225
    assert fw["missing"] == fw["unexpected"] == fw["opted_out_received"] == 0
    assert fw["out_of_order"] == 0 and fw["drain_events_per_s"] > 0
    assert fw["partner_ceiling_events_per_s"] > 0
    assert out["import"]["stickers"] == 50 and out["import"]["seconds"] > 0
    assert out["import"]["cloud_peak_rss_mb"] > 0


@pytest.mark.timeout(240)
def test_bench_codes_prints_its_contract():
    p = subprocess.run([sys.executable, "-m", "gatepost.cli", "bench", "codes", "--parts",
                        "keypad,job", "--codes", "100", "--entries", "10", "--job-codes", "1000",
                        "--job-sites", "2", "--json"], capture_output=True, text=True,
                       timeout=230)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    pad = out["keypad"]
    assert pad["codes_cached"] == 100 and pad["entries"] == 10 and pad["missed"] == 0
    assert pad["flashes"] == {"green": 10}
    assert 0 < pad["latency_ms"]["p50"] <= pad["latency_ms"]["p99"] <= pad["latency_ms"]["max"]
    assert 0 < pad["floor_ms"]["p50"] <= pad["floor_ms"]["p99"]
    job = out["job"]
    assert job["codes"] == 1000 and job["checked"] > 0
    assert job["checked"] == job["renewed"] + job["lapsing"] + job["expired"]
    assert job["rerun"]["renewed"] == 0 and job["rerun"]["expired"] == 0
    assert job["seconds"] > 0 and job["peak_rss_mb"] > 0
