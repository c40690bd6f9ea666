"""The broker locked down, proven against the real Mosquitto: users, ACL and TLS."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from cloud.society.provision import CLOUD_USER, EdgeGrant, acl_text, edge_user, provision
from gatepost.devstack.broker import Broker, TlsFiles
from gatepost.devstack.stack import wait_until
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

    def write(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, stem: str) -> None:
        (folder / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / f"{stem}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))

    write(cert, key, "server")
    # A client certificate of the same CA (a box's), for listeners that require one.
    ckey = ec.generate_private_key(ec.SECP256R1())
    write(x509.CertificateBuilder().subject_name(name("edge-box-a")).issuer_name(ca.subject)
          .public_key(ckey.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
          .sign(ca_key, hashes.SHA256()), ckey, "client")
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


def test_the_edge_and_the_cloud_speak_tls_to_the_broker(tmp_path: Path):
    """The real edge link and the real cloud over Mosquitto's TLS listener only: an event
    goes up and is acknowledged, and the rules come down."""
    import httpx

    from cloud.app import create_app
    from cloud.settings import CloudSettings
    from edge.adapters.cloud_link import CloudLink
    from edge.store.cache import RulesCache
    from edge.store.db import EdgeDB
    from edge.store.outbox import Outbox
    from shared.clock import SystemClock
    from shared.vocab import EventType
    from shared.webthread import WebThread

    auth = provision(tmp_path / "auth", [EdgeGrant("box-a", ("site-a",))])
    tls = make_tls(tmp_path / "tls")
    broker = Broker(tmp_path / "broker", password_file=auth.password_file,
                    acl_file=auth.acl_file, tls=tls)
    broker.start()
    app = create_app(CloudSettings(db=str(tmp_path / "cloud.sqlite"), mqtt_url=broker.tls_url,
                                   mqtt_tls_ca=tls.ca, mqtt_user=CLOUD_USER,
                                   mqtt_password=auth.passwords[CLOUD_USER],
                                   admin_key="gpk_test_admin_key", jobs_every_s=0),
                     SystemClock())
    web = WebThread(app, "127.0.0.1", 0)
    app.state.services.link.start(app.state.services.rules)
    web.start()
    db = EdgeDB(tmp_path / "edge.sqlite")
    link = None
    try:
        assert app.state.services.link.connected.wait(10)
        api = httpx.Client(base_url=web.url, timeout=10,
                           headers={"X-Api-Key": "gpk_test_admin_key"})
        api.post("/api/v1/sites", json={"id": "site-a"}).raise_for_status()
        key = api.post("/api/v1/edges", json={"id": "box-a", "sites": ["site-a"]}
                       ).json()["key"]
        cache = RulesCache(db)
        outbox = Outbox(db, "box-a", {"main-in": "site-a"})
        link = CloudLink("box-a", ["site-a"], mqtt_url=broker.tls_url, http_url=web.url,
                         outbox=outbox, cache=cache, username=edge_user("box-a"),
                         password=auth.passwords[edge_user("box-a")], api_key=key,
                         tls=(tls.ca, None, None))
        link.start()
        wait_until(lambda: link.connected and link.counters["snapshots"] >= 1, 10,
                   what="the edge over TLS")
        outbox.record("main-in", EventType.DECISION, dt.datetime.now(dt.UTC),
                      {"outcome": "open"})
        link.notify()
        wait_until(lambda: outbox.size() == 0, 10, what="the event acknowledged over TLS")
        assert app.state.services.link.counters["stored"] == 1
    finally:
        if link:
            link.stop()
        db.close()
        app.state.services.link.stop()
        web.stop()
        broker.stop()


def test_a_broker_that_requires_client_certificates_admits_boxes_that_have_one(tmp_path):
    auth = provision(tmp_path / "auth", [EdgeGrant("box-a", ("site-a",))])
    tls = make_tls(tmp_path / "tls")
    tls = TlsFiles(tls.ca, tls.cert, tls.key, require_client_cert=True)
    broker = Broker(tmp_path / "broker", password_file=auth.password_file,
                    acl_file=auth.acl_file, tls=tls)
    broker.start()
    def connect(cert: bool) -> bool:
        """Whether the broker admits box A's user, with or without its certificate."""
        from shared.mqtt_tls import use_tls

        seen: list[bool] = []
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        c.username_pw_set(edge_user("box-a"), auth.passwords[edge_user("box-a")])
        folder = tls.ca.parent
        use_tls(c, broker.tls_url, tls.ca, folder / "client.pem" if cert else None,
                folder / "client.key" if cert else None)
        c.on_connect = lambda cl, ud, fl, rc, pr: seen.append(not rc.is_failure)
        c.on_disconnect = lambda *a: seen.append(False)
        try:
            c.connect("127.0.0.1", broker.tls_port)
        except (ssl.SSLError, OSError):
            return False  # the handshake itself was refused
        c.loop_start()
        try:
            wait_until(lambda: seen, 5, what="CONNACK or a dropped connection")
            return seen[0]
        finally:
            c.loop_stop()
            c.disconnect()

    try:
        assert connect(cert=True)
        assert not connect(cert=False)
    finally:
        broker.stop()
