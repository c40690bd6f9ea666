"""Edge configuration: the example validates; mistakes are reported with their key path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gatepost.cli", "edge", "run", "--config",
                           str(path), "--validate-config"], capture_output=True, text=True,
                          timeout=30)


def test_example_config_is_valid():
    p = validate(ROOT / "config" / "edge.example.toml")
    assert p.returncode == 0 and "OK (2 gates" in p.stdout


def test_each_error_names_its_key_path(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("""
id = "box 1"
colour = "red"
[[gates]]
id = "main-in"
site = "green-acres"
direction = "sideways"
[gates.relay]
url = "tcp://127.0.0.1:502"
relay = 9
""")
    p = validate(cfg)
    assert p.returncode == 2
    err = p.stderr
    for path in ("id:", "colour:", "gates.0.direction:", "gates.0.relay.relay:"):
        assert path in err, err


def test_inputs_must_differ(tmp_path):
    cfg = tmp_path / "inputs.toml"
    cfg.write_text("""
id = "box1"
[[gates]]
id = "a"
site = "s"
direction = "entry"
[gates.relay]
url = "tcp://h:502"
loop_input = 2
""")
    p = validate(cfg)
    assert p.returncode == 2 and "gates.0.relay: " in p.stderr and "must differ" in p.stderr


def test_gate_ids_and_relays_must_be_unique(tmp_path):
    cfg = tmp_path / "dup.toml"
    cfg.write_text("""
id = "box1"
[[gates]]
id = "a"
site = "s"
direction = "entry"
[[gates]]
id = "a"
site = "s"
direction = "exit"
""")
    p = validate(cfg)
    assert p.returncode == 2 and "unique" in p.stderr


def test_missing_file_and_bad_toml(tmp_path):
    assert validate(tmp_path / "nope.toml").returncode == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("id = ")
    p = validate(bad)
    assert p.returncode == 2 and str(bad) in p.stderr


def test_secrets_come_from_systemd_credentials_then_files(tmp_path, monkeypatch):
    from edge import config

    (tmp_path / "pw").write_text("from-a-file\n")
    cfg = tmp_path / "edge.toml"
    cfg.write_text(f"""
id = "box-1"
[cloud]
username = "edge-box-1"
password_file = "{tmp_path / 'pw'}"
api_key = "gpk_in_the_toml"
[[gates]]
id = "main-in"
site = "green-acres"
direction = "entry"
""")
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    got = config.load(cfg)
    assert got.cloud.password == "from-a-file" and got.cloud.api_key == "gpk_in_the_toml"
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "gatepost_mqtt_password").write_text("from-systemd")
    (creds / "gatepost_api_token").write_text("a-token-of-16-chars-or-more")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    got = config.load(cfg)
    assert got.cloud.password == "from-systemd"  # the credential wins over the file
    assert got.api.token == "a-token-of-16-chars-or-more"
    assert got.cloud.api_key == "gpk_in_the_toml"  # given in the TOML: kept
    (tmp_path / "pw").unlink()
    (creds / "gatepost_mqtt_password").unlink()
    try:
        config.load(cfg)
    except ValueError as exc:
        assert "cloud.password_file" in str(exc)
    else:
        raise AssertionError("a missing password file must be an error")


PEERS = """
id = "box-1"
[[gates]]
id = "main-in"
site = "green-acres"
direction = "entry"
[peers]
secret = "a-site-secret-of-32-characters-or-more"
[[peers.boxes]]
id = "box-2"
url = "{url}"
"""


def test_peers_need_an_api_their_calls_reach(tmp_path):
    """Before: peers called the LAN address while the API listened on 127.0.0.1 (the default),
    every claim went unanswered and each box admitted every single-use pass on its own."""
    cfg = tmp_path / "peers.toml"
    cfg.write_text(PEERS.format(url="http://10.0.0.12:8081"))
    p = validate(cfg)
    assert p.returncode == 2, p.stdout
    assert "api.host: 127.0.0.1 is loopback" in p.stderr and "peers.boxes.0" in p.stderr
    # Bound on the site's network, it is taken; so are peers on this machine (a test bench).
    cfg.write_text(PEERS.format(url="http://10.0.0.12:8081") + '[api]\nhost = "0.0.0.0"\n')
    assert validate(cfg).returncode == 0
    cfg.write_text(PEERS.format(url="http://127.0.0.1:8082"))
    assert validate(cfg).returncode == 0
    cfg.write_text(PEERS.format(url="http://gate-2.local:8081") + '[api]\nhost = "::1"\n')
    assert "api.host: ::1 is loopback" in validate(cfg).stderr
