"""The broker locked down, proven against the real Mosquitto: users, ACL and TLS."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from cloud.society.provision import CLOUD_USER, EdgeGrant, acl_text, edge_user, provision
from gatepost.broker import Broker, TlsFiles
from gatepost.stack import wait_until
from shared.contract import Topics


class Client:
    """A paho client that records what it receives and how its CONNACK went."""

    def __init__(self, port: int, user: str | None, password: str | None, *,
                 tls_ca: Path | None = None) -> None:
        self.got: list[tuple[str, bytes]] = []
        self.connack: object = None
        self.ready = threading.Event()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        if user:
            self.c.username_pw_set(user, password)
        if tls_ca:
            self.c.tls_set(ca_certs=str(tls_ca), cert_reqs=ssl.CERT_REQUIRED)
        self.c.on_connect = self._on_connect
        self.c.on_message = lambda c, u, m: self.got.append((m.topic, m.payload))
        self.c.on_subscribe = lambda *a: self.ready.set()
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def _on_connect(self, client, userdata, flags, rc, props) -> None:
        self.connack = rc

    def accepted(self, timeout: float = 5) -> bool:
        wait_until(lambda: self.connack is not None, timeout, what="CONNACK")
        return not self.connack.is_failure  # type: ignore[attr-defined]

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


@pytest.fixture
def locked(tmp_path: Path):
    auth = provision(tmp_path / "auth", [EdgeGrant("box-a", ("site-a",)),
                                         EdgeGrant("box-b", ("site-b",))])
    broker = Broker(tmp_path / "broker", password_file=auth.password_file,
                    acl_file=auth.acl_file)
    broker.start()
    clients: list[Client] = []

    def client(user: str | None, password: str | None = None, **kw) -> Client:
        c = Client(kw.pop("port", broker.port), user, password, **kw)
        clients.append(c)
        return c

    yield auth, broker, client
    for c in clients:
        c.close()
    broker.stop()


def test_wrong_password_and_anonymous_are_refused(locked):
    auth, _, client = locked
    assert not client(edge_user("box-a"), "not-the-password").accepted()
    assert not client(None).accepted()
    assert client(edge_user("box-a"), auth.passwords[edge_user("box-a")]).accepted()


def test_a_box_cannot_publish_as_another(locked):
    auth, _, client = locked
    cloud = client(CLOUD_USER, auth.passwords[CLOUD_USER])
    assert cloud.accepted()
    cloud.c.subscribe(Topics.ALL_EVENTS, qos=1)
    assert cloud.ready.wait(5)
    a = client(edge_user("box-a"), auth.passwords[edge_user("box-a")])
    assert a.accepted()
    a.c.publish(Topics.edge_events("box-b"), b"forged", qos=1).wait_for_publish(5)
    a.c.publish(Topics.edge_events("box-a"), b"genuine", qos=1).wait_for_publish(5)
    # The genuine message is the barrier: anything allowed before it would have arrived first.
    wait_until(lambda: any(p == b"genuine" for _, p in cloud.got), 5, what="box-a's event")
    assert [p for _, p in cloud.got] == [b"genuine"]


def test_a_box_cannot_read_another_sites_rules(locked):
    auth, _, client = locked
    a = client(edge_user("box-a"), auth.passwords[edge_user("box-a")])
    assert a.accepted()
    a.c.subscribe([(Topics.rules_delta("site-a"), 1), (Topics.rules_delta("site-b"), 1)])
    assert a.ready.wait(5)
    cloud = client(CLOUD_USER, auth.passwords[CLOUD_USER])
    assert cloud.accepted()
    cloud.c.publish(Topics.rules_delta("site-b"), b"b-rules", qos=1).wait_for_publish(5)
    cloud.c.publish(Topics.rules_delta("site-a"), b"a-rules", qos=1).wait_for_publish(5)
    wait_until(lambda: any(p == b"a-rules" for _, p in a.got), 5, what="site-a's rules")
    assert [p for _, p in a.got] == [b"a-rules"]


def test_the_acl_names_only_the_boxes_own_topics():
    text = acl_text([EdgeGrant("box-a", ("site-a", "site-c"))])
    own = [line for line in text.splitlines() if line.startswith("topic")]
    assert "topic write gatepost/v1/edge/box-a/events" in own
    assert "topic read gatepost/v1/site/site-c/rules/delta" in own
    assert not any("box-b" in line or "site-b" in line for line in own)
    with pytest.raises(ValueError):
        EdgeGrant.parse("box+a:site")
    with pytest.raises(ValueError):
        EdgeGrant.parse("box-a")


def make_tls(folder: Path) -> TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1, made in the test."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("gatepost test CA"))
          .issuer_name(name("gatepost test CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now)
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    return files


def test_tls_listener(tmp_path: Path):
    auth = provision(tmp_path / "auth", [EdgeGrant("box-a", ("site-a",))])
    tls = make_tls(tmp_path / "tls")
    broker = Broker(tmp_path / "broker", password_file=auth.password_file,
                    acl_file=auth.acl_file, tls=tls)
    broker.start()
    assert broker.tls_port is not None
    good = Client(broker.tls_port, edge_user("box-a"), auth.passwords[edge_user("box-a")],
                  tls_ca=tls.ca)
    try:
        assert good.accepted()
        other_ca = make_tls(tmp_path / "other")
        with pytest.raises(ssl.SSLError):
            Client(broker.tls_port, edge_user("box-a"), auth.passwords[edge_user("box-a")],
                   tls_ca=other_ca.ca)
    finally:
        good.close()
        broker.stop()
