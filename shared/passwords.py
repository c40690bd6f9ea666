"""Password hashing shared by the cloud (which creates guard accounts) and the edge (which
checks them): scrypt, a slow and memory-hard KDF, with a fresh salt per hash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1
STICKER_N = 2**12  # a sticker's secret: 4 MiB and a few ms a hash, for batches of 100,000


def hash_password(password: str, n: int = _N) -> str:
    """``scrypt$N$r$p$salt$hash`` with a fresh random salt (cost *n*: the default for people's
    passwords, ``STICKER_N`` for the secrets of imported stickers)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${n}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of *password* against a stored hash."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                             r=int(r), p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))
