"""The keypad reader over OSDP, for real: libosdp as the edge's control panel and as the
simulated reader, over a pseudo-terminal, with a secure channel under the reader's key. Codes
end with ``#``, ``*`` clears, the reader flashes green or red as the lane decided, a wrong key
never brings the channel up, and a reader off the line is reported down and up again."""

from __future__ import annotations

import queue

import pytest

from edge.adapters.keypad import OsdpKeypad
from gatepost.devstack.stack import wait_until
from hardware_sim.keypad import KeypadSim
from shared.cards import wiegand26_epc

SCBK = bytes.fromhex("303132333435363738393a3b3c3d3e3f")


@pytest.fixture
def line():
    sim = KeypadSim(address=101, scbk=SCBK).start()
    codes: queue.Queue[str] = queue.Queue()
    states: list[bool] = []
    valid = {"48213907", wiegand26_epc(12, 3456)}

    def on_code(code: str) -> bool:
        codes.put(code)
        return code in valid

    def on_card(epc: str) -> bool | None:
        codes.put(epc)
        return None if epc == wiegand26_epc(12, 9) else epc in valid

    pad = OsdpKeypad("main-in", sim.port_path, 101, SCBK, on_code=on_code,
                     on_state=lambda up, why: states.append(up), on_card=on_card)
    pad.start()
    wait_until(lambda: states[-1:] == [True], 15, what="the secure channel")
    yield sim, pad, codes, states
    pad.stop()
    sim.stop()


def entered(act, codes: queue.Queue[str], states: list[bool]) -> str:
    """What the keypad passed on after *act* (typing, or a card held to the reader). A frame
    that comes late on a loaded machine breaks the secure channel's MAC chain, and the panel
    keys the channel again: what was typed meanwhile is lost, as on a real line. Only then is
    *act* done again, once the channel is back; a channel that stayed up and passed nothing on
    fails."""
    for _ in range(3):
        wait_until(lambda: states[-1:] == [True], 20, what="the secure channel")
        drops = states.count(False)
        act()
        try:
            return codes.get(timeout=5)
        except queue.Empty:
            if states.count(False) == drops:
                raise AssertionError("the keypad passed nothing on, its channel up") from None
    raise AssertionError("the secure channel kept dropping")


def test_codes_typed_are_decided_and_the_reader_answers(line) -> None:
    sim, _pad, codes, states = line
    assert entered(lambda: sim.type("48213907"), codes, states) == "48213907"
    wait_until(lambda: [f.what for f in sim.leds()] == ["green"], 5, what="the green flash")

    def mistyped_then_cleared() -> None:
        sim.type("1111", enter=False, per_key=True)
        sim.type("*", enter=False)  # the resident clears a mistyped start
        sim.type("99990000")

    assert entered(mistyped_then_cleared, codes, states) == "99990000"
    wait_until(lambda: [f.what for f in sim.leds()] == ["green", "red"], 5,
               what="the red flash")


def test_cards_held_to_the_reader_are_decided_as_tags(line) -> None:
    sim, _pad, codes, states = line
    assert entered(lambda: sim.card(12, 3456), codes, states) == wiegand26_epc(12, 3456)
    wait_until(lambda: [f.what for f in sim.leds()] == ["green"], 5, what="the green flash")
    assert entered(lambda: sim.card(12, 3457), codes, states) == wiegand26_epc(12, 3457)
    wait_until(lambda: [f.what for f in sim.leds()] == ["green", "red"], 5,
               what="the red flash")
    # held again while its decision stands: no flash
    assert entered(lambda: sim.card(12, 9), codes, states) == wiegand26_epc(12, 9)
    assert entered(lambda: sim.type("48213907"), codes, states) == "48213907"
    wait_until(lambda: len(sim.leds()) == 3, 5, what="the code's flash")
    assert [f.what for f in sim.leds()] == ["green", "red", "green"]


def test_a_reader_off_the_line_is_down_then_up(line) -> None:
    sim, _pad, _codes, states = line
    sim.unplug()
    wait_until(lambda: states[-1] is False, 20, what="the reader reported down")
    sim.plug()
    wait_until(lambda: states[-1] is True, 20, what="the reader back up")


def test_a_reader_with_another_key_never_gets_a_secure_channel() -> None:
    sim = KeypadSim(address=101, scbk=bytes(16)).start()
    states: list[bool] = []
    pad = OsdpKeypad("main-in", sim.port_path, 101, SCBK, on_code=lambda c: True,
                     on_state=lambda up, why: states.append(up))
    pad.start()
    try:
        with pytest.raises(TimeoutError):
            wait_until(lambda: True in states, 4, what="a secure channel")
    finally:
        pad.stop()
        sim.stop()
