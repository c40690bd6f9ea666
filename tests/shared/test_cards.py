"""Access cards as the gate holds them: the 26-bit Wiegand format with its parity bits, and the
EPC a card read stands for."""

from __future__ import annotations

import pytest

from shared.cards import card_epc, wiegand26, wiegand26_epc


def test_wiegand26_bits_and_parity() -> None:
    bits, data = wiegand26(12, 3456)
    word = int.from_bytes(data, "big") >> 6
    assert bits == 26 and len(data) == 4 and int.from_bytes(data, "big") & 0x3F == 0
    body = word >> 1 & 0xFFFFFF
    assert (body >> 16, body & 0xFFFF) == (12, 3456)
    assert (bin(word >> 13).count("1")) % 2 == 0  # even parity over the first 13 bits
    assert (bin(word & 0x1FFF).count("1")) % 2 == 1  # odd parity over the last 13


def test_a_card_is_an_epc_of_whole_words() -> None:
    epc = wiegand26_epc(12, 3456)
    assert len(epc) == 24 and epc.startswith("CA4D001A")
    assert int(epc[8:], 16) == int.from_bytes(wiegand26(12, 3456)[1], "big") >> 6
    assert wiegand26_epc(12, 3457) != epc and wiegand26_epc(13, 3456) != epc
    assert card_epc(16, bytes([0x55, 0xAA])) == "CA4D0010000000000000" + "55AA"
    with pytest.raises(ValueError):
        card_epc(40, bytes(4))
    with pytest.raises(ValueError):
        wiegand26(256, 1)
