"""What boxes of a site say to each other about single-use passes, and how it is signed.

Two calls on a box's local API: ``POST /peers/claim`` (may I spend this pass now?) and
``POST /peers/spend`` (these passes were spent here). Every request and every answer carries
``X-Gatepost-Box`` (who speaks) and ``X-Gatepost-Signature``: HMAC-SHA256 under the site's
shared secret over the speaker, the path and the body. An answer echoes the request's
``nonce``, so an answer recorded once cannot stand for another. A request replayed says again
what it said: a spend is recorded once, and a claim only ever delays a pass already claimed.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contract import SEGMENT

BOX = "X-Gatepost-Box"
SIGNATURE = "X-Gatepost-Signature"
CLAIM_PATH = "/peers/claim"
SPEND_PATH = "/peers/spend"
_HASH = r"^[0-9a-f]{16,128}$"  # a code's keyed hash, as the gates hold it


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClaimRequest(_M):
    """A box asks to spend a pass now."""

    site: str = Field(pattern=SEGMENT.pattern)
    hash: str = Field(pattern=_HASH)
    token: str = Field(min_length=8, max_length=64)  # this attempt
    nonce: str = Field(min_length=8, max_length=64)


class ClaimAnswer(_M):
    """free: go on; taken: another box is spending it now; spent: it was spent."""

    nonce: str
    status: Literal["free", "taken", "spent"]
    by: str | None = None


class Spend(_M):
    """A pass this box let in."""

    site: str = Field(pattern=SEGMENT.pattern)
    hash: str = Field(pattern=_HASH)
    at: str = Field(max_length=40)


class SpendRequest(_M):
    """Spends a box tells a peer of (its outbox, in order)."""

    spends: list[Spend] = Field(min_length=1, max_length=500)
    nonce: str = Field(min_length=8, max_length=64)


class SpendAnswer(_M):
    """How many of the spends were new here."""

    nonce: str
    recorded: int


def sign(secret: str, box: str, path: str, body: bytes) -> str:
    """The signature of *box* saying *body* on *path*."""
    msg = box.encode() + b"\n" + path.encode() + b"\n" + body
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def verify(secret: str, box: str, path: str, body: bytes, signature: str) -> bool:
    """Whether *signature* is *box*'s over *body* on *path* (constant time). Any text is an
    answer: a header that is not ASCII (which ``compare_digest`` refuses as a str) is no
    signature, never an error."""
    if not signature.isascii():
        return False
    return hmac.compare_digest(sign(secret, box, path, body).encode(), signature.encode())
