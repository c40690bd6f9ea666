"""The cloud's typed settings: flags over environment over systemd credentials, and loud
refusals of bad values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PRINT = ("from cloud.settings import CloudSettings as S; s = S(**({'port': 9} if FLAG else {}));"
         "print(s.port, s.workers, s.database(), s.secret('mqtt_password'))")


def settings_in(env: dict[str, str], cwd: Path, flag: bool = False) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GATEPOST_")}
    p = subprocess.run([sys.executable, "-c", f"FLAG = {flag}\n{PRINT}"], env=clean | env,
                       cwd=cwd, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def test_environment_and_systemd_credentials_fill_the_settings(tmp_path):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "gatepost_mqtt_password").write_text("from-a-credential")
    got = settings_in({"CREDENTIALS_DIRECTORY": str(creds), "GATEPOST_WORKERS": "3",
                       "GATEPOST_DB": "postgresql://g@db/x", "GATEPOST_PORT": "8181"}, tmp_path)
    assert got == "8181 3 postgresql://g@db/x from-a-credential"
    # a flag given to `gatepost cloud run` wins over the environment
    assert settings_in({"GATEPOST_PORT": "8181"}, tmp_path, flag=True).startswith("9 1 ")


def test_bad_settings_are_refused_with_the_key(tmp_path):
    p = subprocess.run([sys.executable, "-m", "gatepost.cli", "cloud", "run", "--workers", "0",
                        "--no-mqtt", "--data-dir", str(tmp_path)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2 and "workers" in p.stderr


def test_settings_handed_to_worker_processes_keep_unset_paths_unset(monkeypatch):
    from cloud.settings import CloudSettings

    env = CloudSettings(db="sqlite:///x.sqlite", mqtt_url="mqtt://127.0.0.1:1883").to_environ()
    assert env["GATEPOST_MQTT_TLS_CERT"] == ""
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    again = CloudSettings()
    assert again.mqtt_tls_ca is None and again.mqtt_tls_cert is None
    assert again.mqtt_tls_key is None and again.clock_file is None
