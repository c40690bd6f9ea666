"""Canonical JSON (sorted keys, no spaces): the bytes a gate command's HMAC covers
(``shared.commands``). Webhooks and the payment callback are signed over their bytes as sent
(``shared.webhooks``)."""

from __future__ import annotations

import json
from typing import Any


def canonical(body: dict[str, Any]) -> bytes:
    """The bytes that are signed: every field but ``sig``, sorted, compact."""
    return json.dumps({k: v for k, v in body.items() if k != "sig"}, sort_keys=True,
                      separators=(",", ":")).encode()
