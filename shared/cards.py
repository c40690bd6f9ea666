"""Access cards read by an OSDP reader, as the gate holds them: a card is a tag whose EPC
encodes the card's raw bits (``card_epc``), so a society registers its cards as it does its
UHF tags and the lane decides them on the tag path. The 26-bit Wiegand format (facility code
and card number, with its two parity bits) is the one most readers send (``wiegand26``)."""

from __future__ import annotations

PREFIX = "CA4D"  # "card": no UHF tag's EPC starts with this header


def card_epc(bits: int, data: bytes) -> str:
    """The EPC (24 hex digits) a card read of *bits* bits (*data*, first bit first) stands
    for: ``CA4D``, the bit count, and the bits as a number."""
    if not 0 < bits <= min(64, len(data) * 8):
        raise ValueError(f"a card read of {bits} bits in {len(data)} bytes")
    value = int.from_bytes(data, "big") >> (len(data) * 8 - bits)
    return f"{PREFIX}{bits:04X}{value:016X}"


def wiegand26(facility: int, number: int) -> tuple[int, bytes]:
    """A 26-bit Wiegand read: even parity, 8 bits of facility, 16 of card number, odd parity;
    as (bits, data) with the bits first-bit-first, padded to whole bytes."""
    if not (0 <= facility < 256 and 0 <= number < 65536):
        raise ValueError("facility is 0–255 and card number 0–65535")
    body = facility << 16 | number
    even = bin(body >> 12).count("1") % 2  # over the first 12 bits of the 24
    odd = 1 - bin(body & 0xFFF).count("1") % 2  # over the last 12
    word = (even << 25 | body << 1 | odd) << 6  # left-aligned in 4 bytes
    return 26, word.to_bytes(4, "big")


def wiegand26_epc(facility: int, number: int) -> str:
    """The EPC a card of this facility code and number is registered under."""
    return card_epc(*wiegand26(facility, number))
