"""Access codes, pure: the alphabets a site chooses, drawing a code, reading one as typed or
scanned, and the keyed hash the edge holds instead of the code.

- ``digits``: 0–9, for keypads;
- ``letters``: upper-case letters and digits without the look-alikes 0/O and 1/I, for codes read
  out or typed on a phone.

A code is 8–10 characters (the seed's promocode). What is typed is read leniently (spaces and
dashes dropped, letters upper-cased), but a look-alike the alphabet does not use is refused
rather than guessed (``normalise`` raises), so a mistyped code is never taken for another.

The edge never holds a code in clear, nor what would let its disk test a guess: a site's codes
are hashed by its ``CodeKey``, ``scrypt(pepper + code, salt)``. The salt and cost travel in the
rules; the pepper goes only to the site's boxes and lives in their memory, never on a disk or in
a staff member's rules read, so a stolen box's file holds hashes nobody can test, and whoever
learns the pepper still pays a slow hash per guess (``docs/codes.md``, "A stolen box"). Sites of
before carry the legacy ``code_hash(key, code)`` (HMAC-SHA256, key in the rules) until rotated.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

Alphabet = Literal["digits", "letters"]
ALPHABETS: dict[str, str] = {
    "digits": "0123456789",
    "letters": "ABCDEFGHJKLMNPQRSTUVWXYZ23456789",  # no 0/O, no 1/I
}
MIN_LEN, MAX_LEN = 8, 10
# scrypt's N (r = 8, p = 1: 4 MiB): about 10 ms a hash on one core of the cloud's machine, and
# ~30 ms on a Raspberry Pi 4: the gate's check stays within 50 ms (docs/codes.md).
SCRYPT_N, SCRYPT_R, MAX_N = 4096, 8, 1 << 16


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


def secret() -> str:
    """A new salt or pepper (32 random bytes, hex)."""
    return secrets.token_hex(32)


@dataclass(frozen=True, slots=True)
class CodeKey:
    """What hashes a site's codes: ``scrypt`` under the site's salt with its pepper (the
    cloud's, and a box's once the cloud gave it), or the legacy HMAC ``key``."""

    salt: bytes | None = None
    pepper: bytes | None = None
    cost: int = SCRYPT_N
    key: bytes | None = None  # legacy: a site not rotated since codes were hashed by HMAC

    def __post_init__(self) -> None:
        if (self.key is None) == (self.salt is None or self.pepper is None):
            raise ValueError("a code key is a salt with a pepper, or a legacy HMAC key")
        if not 2 <= self.cost <= MAX_N or self.cost & (self.cost - 1):
            raise ValueError(f"scrypt's N is a power of two up to {MAX_N}")

    def digest(self, code: str) -> str:
        """The hash of a (normalised) code: what the gates hold and look up."""
        if self.key is not None:
            return code_hash(self.key, code)
        assert self.salt is not None and self.pepper is not None
        return hashlib.scrypt(self.pepper + code.encode(), salt=self.salt, n=self.cost,
                              r=SCRYPT_R, p=1, maxmem=2 * 128 * SCRYPT_R * MAX_N,
                              dklen=32).hex()
