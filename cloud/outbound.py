"""Calls the cloud makes to addresses others named (a society admin's partner endpoint, the
operator's notification webhook), bounded three ways:

- a **total deadline** per call, connecting, sending and reading the answer included: httpx's
  timeouts are per operation, so a server answering one byte a second never trips them. Every
  read and write of the connection here waits at most what is left of the call's deadline;
- an **answer size cap**: the answer is streamed and the call fails past ``max_bytes``;
- **no internal targets**: the host is resolved and the call refused when any of its addresses
  is loopback, private, link-local, multicast, reserved or otherwise not global, unless one of
  the operator's allowed networks holds it. The check is made when the address is configured
  (``Targets.check_url``) and again on every new connection, which goes to the very address
  that was checked (a name that resolves elsewhere the second time changes nothing).

It speaks HTTP through httpcore (httpx's own transport), whose network backend is the place
where every connection is opened and every byte read.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_deadline: ContextVar[float | None] = ContextVar("outbound_deadline", default=None)


class CallFailed(Exception):
    """The call did not complete: refused target, deadline, size cap, or the network."""


class TargetRefused(CallFailed):
    """The address is internal and the operator did not allow it."""


def internal(ip: Address) -> bool:
    """Whether an address is not one the public internet routes to us."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (not ip.is_global or ip.is_private or ip.is_loopback or ip.is_link_local
            or ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def networks(text: str) -> tuple[Network, ...]:
    """The networks of a comma-separated list (``127.0.0.0/8, 10.1.2.3``); ValueError if one
    does not parse."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class Targets:
    """Which addresses calls may go to: every global one, and internal ones in ``allowed``."""

    allowed: tuple[Network, ...] = ()

    def refusal(self, ip: Address) -> str | None:
        """Why a call may not go to *ip*, or None."""
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:10.1.2.3 is 10.1.2.3, allowed or not as it is
        if not internal(ip) or any(ip in n for n in self.allowed):
            return None
        return f"{ip} is an internal address (loopback, private, link-local, multicast or " \
               f"reserved) and the cloud's partner_internal_targets does not allow it"

    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of *host*, every one allowed: ``TargetRefused`` if one is not,
        ``CallFailed`` if it does not resolve."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise CallFailed(f"{host} does not resolve: {exc}") from exc
        out: list[str] = []
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            why = self.refusal(ip)
            if why is not None:
                raise TargetRefused(f"{host}: {why}")
            out.append(str(ip))
        if not out:
            raise CallFailed(f"{host} does not resolve")
        return out

    def check_url(self, url: str) -> None:
        """Refuse a URL whose host is internal and not allowed (``TargetRefused``) or does not
        resolve (``CallFailed``)."""
        parts = urlsplit(url)
        if parts.hostname is None:
            raise TargetRefused(f"{url} names no host")
        self.resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


def _left(timeout: float | None) -> float | None:
    """What a network operation may wait: its own timeout, cut to the call's deadline."""
    end = _deadline.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the call's deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    """A connection whose every read and write waits at most what is left of the deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _left(timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _Stream(self.inner.start_tls(ssl_context, server_hostname, _left(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """Opens connections only to checked addresses (when there are ``targets``)."""

    def __init__(self, targets: Targets | None) -> None:
        self.targets = targets
        self.inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        if self.targets is not None:
            host = self.targets.resolve(host, port)[0]  # connect to the address checked
        return _Stream(self.inner.connect_tcp(host, port, _left(timeout), local_address,
                                              socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None
                            ) -> httpcore.NetworkStream:
        raise TargetRefused("unix sockets are not a target")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


@dataclass(frozen=True)
class Answer:
    """What the other side answered (its body whole: never more than the cap)."""

    status: int
    body: bytes


@contextmanager
def _within(seconds: float) -> Iterator[None]:
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


class Outbound:
    """A pool of connections for calls bounded by a deadline and an answer cap."""

    def __init__(self, targets: Targets | None, deadline_s: float = 5.0,
                 max_bytes: int = 64 * 1024) -> None:
        self.deadline_s = deadline_s
        self.max_bytes = max_bytes
        self.pool = httpcore.ConnectionPool(network_backend=_Backend(targets),
                                            max_connections=64, keepalive_expiry=5.0)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        """POST *body* (JSON) to *url*; the answer, or ``CallFailed`` (``TargetRefused`` for an
        address not allowed)."""
        sent = [(k.encode(), v.encode()) for k, v in
                ({"Content-Type": "application/json", "Accept": "application/json"}
                 | headers).items()]
        limit = {k: self.deadline_s for k in ("connect", "read", "write", "pool")}
        try:
            with _within(self.deadline_s), self.pool.stream(
                    "POST", url, headers=sent, content=body,
                    extensions={"timeout": limit}) as resp:
                length = next((v for k, v in resp.headers if k.lower() == b"content-length"),
                              b"0")
                if int(length or b"0") > self.max_bytes:
                    raise CallFailed(f"an answer of {int(length)} bytes, more than "
                                     f"{self.max_bytes}")
                chunks, size = [], 0
                for chunk in resp.iter_stream():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise CallFailed(f"an answer of more than {self.max_bytes} bytes")
                    chunks.append(chunk)
                return Answer(resp.status, b"".join(chunks))
        except CallFailed:
            raise
        except httpcore.TimeoutException as exc:
            raise CallFailed(f"no whole answer within {self.deadline_s:g} s") from exc
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol,
                OSError, ValueError) as exc:
            raise CallFailed(str(exc) or type(exc).__name__) from exc

    def close(self) -> None:
        """Close every pooled connection."""
        self.pool.close()
