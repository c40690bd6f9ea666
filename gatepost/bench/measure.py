"""What every bench reports beside its figures: percentiles, the machine, processes' memory,
and the made-up tags and plates the benches read."""

from __future__ import annotations

import os
import platform
import statistics
from pathlib import Path

from gatepost.devstack.stack import Stack


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s)) - 1))]


def spread(values: list[float], quantiles: tuple[int, ...], digits: int, *,
           with_max: bool = False, with_mean: bool = False) -> dict[str, float]:
    """p50 (the median) and other nearest-rank percentiles, optionally max and mean."""
    out = {f"p{q}": round(statistics.median(values) if q == 50 else pct(values, q), digits)
           for q in quantiles}
    if with_max:
        out["max"] = round(max(values), digits)
    if with_mean:
        out["mean"] = round(statistics.fmean(values), digits)
    return out


def machine() -> dict:
    """What the figures were measured on."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model or platform.processor(), "cores": os.cpu_count(),
            "python": platform.python_version(), "system": platform.platform()}


def rss_mb(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory of a process, MB (Linux ``/proc``)."""
    got = {"VmRSS": 0.0, "VmHWM": 0.0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in got:
            got[key] = int(value.split()[0]) / 1024
    return round(got["VmRSS"], 1), round(got["VmHWM"], 1)


def memory(stack: Stack) -> dict[str, float]:
    """The edge daemon's and the cloud's resident and peak memory now, MB."""
    out: dict[str, float] = {}
    for name, proc in (("", stack.edge_proc), ("cloud_", stack.cloud_proc)):
        if proc is not None and proc.poll() is None:
            out[f"{name}rss_mb"], out[f"{name}peak_rss_mb"] = rss_mb(proc.pid)
    return out


def tag_epc(i: int) -> str:
    """The bench's *i*-th tag EPC."""
    return f"E28011606000{i:012X}"


def plate_vrn(i: int) -> str:
    """The bench's *i*-th vehicle registration number, valid in form."""
    return f"MH{i % 50 + 1:02d}{chr(65 + i // 10000 % 26)}{chr(65 + i // 260000 % 26)}" \
           f"{i % 10000:04d}"
