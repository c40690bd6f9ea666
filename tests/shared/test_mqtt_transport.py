"""The MQTT transports under load: paho over a buffered, no-delay socket (the cloud and the
edge), and the bare MQTT 3.1.1 client of the bench's simulated boxes, against a real broker."""

from __future__ import annotations

import socket
import threading

import paho.mqtt.client as mqtt
import pytest

from cloud.society.provision import CLOUD_USER, EdgeGrant, edge_user, provision
from gatepost.bench.mqttwire import CONNACK, PUBACK, PUBLISH, SUBACK, WireClient
from gatepost.devstack.broker import Broker
from gatepost.devstack.stack import wait_until
from shared.mqtt_buffered import BufferedSocket
from shared.mqtt_buffered import Client as BufferedClient


def _client(name: str) -> BufferedClient:
    return BufferedClient(mqtt.CallbackAPIVersion.VERSION2, client_id=name,
                          protocol=mqtt.MQTTv5)


def test_a_buffered_client_gets_every_message_in_order_and_sends_at_once(broker):
    got: list[bytes] = []
    done = threading.Event()
    sub, pub = _client("t-sub"), _client("t-pub")

    def on_message(c, u, msg) -> None:
        got.append(msg.payload)
        if len(got) == 3000:
            done.set()

    sub.on_message = on_message
    sub.on_connect = lambda c, *a: c.subscribe("t/#", qos=1)
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    for c in (sub, pub):
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
    try:
        assert subscribed.wait(10)
        # Many small messages arrive in few reads: the buffer hands them out one by one.
        for i in range(3000):
            pub.publish(f"t/{i % 7}", f"m{i}".encode() + b"x" * (i % 300), qos=i % 2)
        assert done.wait(30), f"{len(got)} of 3000 arrived"
        sent = [f"m{i}".encode() + b"x" * (i % 300) for i in range(3000)]
        assert sorted(got) == sorted(sent)  # each once, whole
        for qos in (0, 1):  # and in order (MQTT orders the messages of one QoS)
            these = set(sent[qos::2])
            assert [m for m in got if m in these] == sent[qos::2]
        sock = sub.socket()
        assert isinstance(sock, BufferedSocket) and sock.pending() == 0
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        for c in (sub, pub):
            c.disconnect()
            c.loop_stop()


def test_the_bench_box_speaks_mqtt_with_its_own_user(tmp_path):
    prov = provision(tmp_path / "auth", [EdgeGrant("box-1", ("s-1",))])
    user = edge_user("box-1")
    b = Broker(tmp_path / "broker", password_file=prov.password_file, acl_file=prov.acl_file)
    b.start()
    try:
        box = WireClient("load-box-1", user, prov.passwords[user])
        box.connect("127.0.0.1", b.port)
        seen: list[tuple[int, int, str, bytes]] = []

        def pump(until) -> None:
            def step() -> bool:
                box.flush()
                box.sock.settimeout(0.2)
                try:
                    seen.extend(box.read())
                except TimeoutError:
                    pass
                return until()
            wait_until(step, 10, what="the broker's answer")

        pump(lambda: any(k == CONNACK for k, *_ in seen))
        assert (CONNACK, 0, "", b"") in seen  # accepted
        box.subscribe("gatepost/v1/edge/box-1/acks", qos=1)
        pump(lambda: any(k == SUBACK for k, *_ in seen))
        mid = box.publish("gatepost/v1/edge/box-1/events", b'{"id": "g1:1"}')
        pump(lambda: (PUBACK, mid, "", b"") in seen)
        # A message to the box at QoS 1 arrives whole and is acknowledged by the box.
        cloud = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="t-cloud")
        cloud.username_pw_set(CLOUD_USER, prov.passwords[CLOUD_USER])
        cloud.connect("127.0.0.1", b.port)
        cloud.loop_start()
        try:
            cloud.publish("gatepost/v1/edge/box-1/acks", b'{"ids": ["g1:1"]}' * 500,
                          qos=1).wait_for_publish(10)
        finally:
            cloud.disconnect()
            cloud.loop_stop()
        pump(lambda: any(k == PUBLISH for k, *_ in seen))
        _, _, topic, payload = next(s for s in seen if s[0] == PUBLISH)
        assert topic == "gatepost/v1/edge/box-1/acks" and payload == b'{"ids": ["g1:1"]}' * 500
        box.disconnect()
        # Another box's user cannot publish as it: a wrong password is refused at CONNECT.
        bad = WireClient("load-x", user, "not-the-password")
        bad.connect("127.0.0.1", b.port)
        bad.flush()
        bad.sock.settimeout(5)
        assert [k for k, rc, *_ in bad.read() if k == CONNACK and rc != 0]
        bad.disconnect()
    finally:
        b.stop()


def test_a_packet_split_across_reads_is_parsed_once_whole():
    ours, theirs = socket.socketpair()
    box = WireClient("x", "u", "p")
    box.sock = ours
    body = b"\x00\x05a/b/c" + b"\x00\x07" + b"y" * 200  # topic, packet id 7, payload
    packet = bytes([0x32, len(body) & 0x7F | 0x80, len(body) >> 7]) + body
    try:
        theirs.sendall(packet[:2])  # the length is not all here yet
        assert box.read() == []
        theirs.sendall(packet[2:90])
        assert box.read() == []
        theirs.sendall(packet[90:] + bytes([0x40, 2, 0, 9]))  # and a PUBACK after it
        assert box.read() == [(PUBLISH, 7, "a/b/c", b"y" * 200), (PUBACK, 9, "", b"")]
        assert box.want_write()  # its own PUBACK for packet 7
        box.flush()
        assert theirs.recv(10) == bytes([0x40, 2, 0, 7])
        theirs.close()
        with pytest.raises(ConnectionError):
            box.read()
    finally:
        ours.close()
