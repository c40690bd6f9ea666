"""The shipped systemd units: they verify, their exposure is low (``systemd-analyze security``),
and they keep what the daemons need (notify, watchdog, credentials, the serial lines)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "systemd"
ANALYZE = shutil.which("systemd-analyze")
needs_systemd = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed "
                                   "here (the units are checked where systemd is present)")


def installed(tmp_path: Path, name: str) -> Path:
    """The unit as installed, its ExecStart pointing at this checkout's venv."""
    unit = tmp_path / name
    unit.write_text((UNITS / name).read_text().replace("/opt/gatepost/.venv",
                                                       str(Path(sys.executable).parent.parent)))
    return unit


@needs_systemd
@pytest.mark.parametrize("name", ["gatepost-edge.service", "gatepost-cloud.service"])
def test_units_verify_and_expose_little(tmp_path: Path, name: str):
    unit = installed(tmp_path, name)
    verify = subprocess.run([str(ANALYZE), "verify", str(unit)], capture_output=True,
                            text=True, timeout=60)
    assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr
    security = subprocess.run([str(ANALYZE), "security", "--offline=true", str(unit)],
                              capture_output=True, text=True, timeout=60)
    level = re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout)
    assert level and float(level.group(1)) <= 3.0, security.stdout[-2000:]


@pytest.mark.parametrize("name", ["gatepost-edge.service", "gatepost-cloud.service"])
def test_units_keep_what_the_daemons_need(name: str):
    text = (UNITS / name).read_text()
    for line in ("Type=notify", "WatchdogSec=", "UMask=0077", "SystemCallFilter=@system-service",
                 "SystemCallArchitectures=native", "ProtectClock=true", "ProtectKernelLogs=true",
                 "ProtectHostname=true", "RestrictNamespaces=true", "RestrictRealtime=true",
                 "DevicePolicy=closed", "NoNewPrivileges=true"):
        assert line in text, (name, line)
    if name == "gatepost-edge.service":  # readers and relay boards on serial lines
        assert "DeviceAllow=char-ttyUSB rw" in text and "SupplementaryGroups=dialout" in text
    else:  # able to reach a provisioned broker: its user and the credential of its password
        assert "--mqtt-user gatepost-cloud" in text
        assert re.search(r"^LoadCredential=gatepost_mqtt_password:", text, re.M)
