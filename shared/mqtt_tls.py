"""TLS for the MQTT clients of the edge and the cloud: a broker's CA, and optionally a client
certificate, applied to a paho client when the URL says ``mqtts://`` or a CA is given."""

from __future__ import annotations

import ssl
from pathlib import Path
from urllib.parse import urlparse

import paho.mqtt.client as mqtt

TLS_PORT = 8883


def broker_address(url: str) -> tuple[str, int, bool]:
    """Host, port and whether TLS is asked for (``mqtts://``), from a broker URL."""
    u = urlparse(url)
    tls = u.scheme == "mqtts"
    return u.hostname or "127.0.0.1", u.port or (TLS_PORT if tls else 1883), tls


def use_tls(client: mqtt.Client, url: str, ca: Path | str | None = None,
            cert: Path | str | None = None, key: Path | str | None = None) -> bool:
    """Turn TLS on for *client* when *url* is ``mqtts://`` or *ca* is given: the broker must
    present a certificate of *ca* (the system's CAs when none) for its host name; *cert* and
    *key* are the client's own certificate, for brokers that require one. Whether TLS is on."""
    if not (broker_address(url)[2] or ca):
        return False
    client.tls_set(ca_certs=str(ca) if ca else None, certfile=str(cert) if cert else None,
                   keyfile=str(key) if key else None, cert_reqs=ssl.CERT_REQUIRED,
                   tls_version=ssl.PROTOCOL_TLS_CLIENT)
    return True
