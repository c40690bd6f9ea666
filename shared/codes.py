"""Access codes, pure: the alphabets a site chooses, drawing a code, reading one as typed or
scanned, and the keyed hash the edge holds instead of the code.

- ``digits``: 0–9, for keypads;
- ``letters``: upper-case letters and digits without the look-alikes 0/O and 1/I, for codes read
  out or typed on a phone.

A code is 8–10 characters (the seed's promocode). What is typed is read leniently (spaces and
dashes dropped, letters upper-cased), but a look-alike the alphabet does not use is refused
rather than guessed (``normalise`` raises), so a mistyped code is never taken for another.

The edge never holds a code in clear: ``code_hash(key, code)`` is HMAC-SHA256 under the site's
key (from the rules snapshot), and a typed code is hashed the same way and looked up.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Literal

Alphabet = Literal["digits", "letters"]
ALPHABETS: dict[str, str] = {
    "digits": "0123456789",
    "letters": "ABCDEFGHJKLMNPQRSTUVWXYZ23456789",  # no 0/O, no 1/I
}
MIN_LEN, MAX_LEN = 8, 10


def draw(alphabet: Alphabet, length: int = 8) -> str:
    """A random code of *length* characters from *alphabet* (``secrets``: unpredictable)."""
    if not MIN_LEN <= length <= MAX_LEN:
        raise ValueError(f"a code is {MIN_LEN}–{MAX_LEN} characters")
    chars = ALPHABETS[alphabet]
    return "".join(secrets.choice(chars) for _ in range(length))


def normalise(raw: str, alphabet: Alphabet) -> str:
    """The code as typed, spaces and dashes dropped and upper-cased; ``ValueError`` when it
    cannot be a code of *alphabet* (length, or a character it does not use)."""
    code = "".join(ch for ch in raw.upper() if ch not in " -\t")
    if not MIN_LEN <= len(code) <= MAX_LEN:
        raise ValueError(f"a code is {MIN_LEN}–{MAX_LEN} characters, not {len(code)}")
    bad = sorted({ch for ch in code if ch not in ALPHABETS[alphabet]})
    if bad:
        raise ValueError(f"{''.join(bad)} is not used in {alphabet} codes")
    return code


def code_hash(key: bytes, code: str) -> str:
    """The keyed hash of a (normalised) code: what the edge holds and looks up."""
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()


def registry_digest(code: str) -> str:
    """What the cloud keeps forever of every code ever issued, so none is issued twice."""
    return hashlib.sha256(f"gatepost-code:{code}".encode()).hexdigest()
