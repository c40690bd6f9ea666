"""HMAC-SHA256 over canonical JSON (sorted keys, no spaces): payment callbacks and webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any


def canonical(body: dict[str, Any]) -> bytes:
    """The bytes that are signed: every field but ``sig``, sorted, compact."""
    return json.dumps({k: v for k, v in body.items() if k != "sig"}, sort_keys=True,
                      separators=(",", ":")).encode()


def sign(body: dict[str, Any], secret: str) -> dict[str, Any]:
    """*body* with its ``sig``."""
    return {**body, "sig": hmac.new(secret.encode(), canonical(body), hashlib.sha256).hexdigest()}


def verify(body: dict[str, Any], secret: str) -> bool:
    """Whether ``sig`` matches the rest of *body* (constant time)."""
    got = body.get("sig")
    want = hmac.new(secret.encode(), canonical(body), hashlib.sha256).hexdigest()
    return isinstance(got, str) and hmac.compare_digest(got, want)
