"""Signed webhooks the Standard Webhooks way (https://www.standardwebhooks.com/), with the
``standardwebhooks`` package: three headers, ``webhook-id``, ``webhook-timestamp`` (Unix
seconds) and ``webhook-signature`` (``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body``
over the body's bytes as sent). The cloud signs what it sends to partner apps and to the
notification webhook, and verifies the payment provider's callback this way.

A secret is ``whsec_`` and base64 bytes (as Standard Webhooks issues them), or any other text,
whose UTF-8 bytes are the key (a provider's shared secret as the operator was given it)."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from standardwebhooks import Webhook, WebhookVerificationError

PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh secret: ``whsec_`` and 32 random bytes in base64."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _hook(secret: str) -> Webhook:
    return Webhook(secret if secret.startswith(PREFIX) else secret.encode())


def headers(secret: str, msg_id: str, body: bytes, at: float | None = None) -> dict[str, str]:
    """The three headers that sign *body* under *msg_id*, at *at* (Unix seconds; now by
    default: the receiver's tolerance is against real time, never a simulated clock)."""
    when = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": _hook(secret).sign(msg_id, when, body)}


def verify(secret: str, body: bytes, got: Mapping[str, str]) -> bool:
    """Whether *got* (a request's headers) sign these exact *body* bytes with *secret*, at a
    timestamp within five minutes of now (constant-time comparison)."""
    if not secret:
        return False
    try:
        _hook(secret).verify(body, dict(got.items()), json_parse=False)
    except (WebhookVerificationError, ValueError):
        return False
    return True
