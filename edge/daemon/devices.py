"""A gate's reader and keypad, opened for the daemon: what they read is posted to the gate's
lane, their line's state too."""

from __future__ import annotations

import time
from collections.abc import Callable

from edge.adapters.keypad import OsdpKeypad
from edge.adapters.reader import CredentialReader, open_reader
from edge.config import GateConfig
from edge.core.types import Decision
from edge.drivers.uhf18 import Rejected
from edge.lanes import DeviceState, Lane, TagRead
from shared.counters import Counters
from shared.vocab import Outcome


def gate_reader(g: GateConfig, lane: Lane, counters: Counters) -> CredentialReader:
    """The gate's tag reader: every EPC posted to its lane, rejected frames counted."""
    assert g.reader is not None

    def on_epc(epc: str, frame_ns: int) -> None:
        lane.post(TagRead(epc, frame_ns))

    def on_reject(rej: Rejected) -> None:
        counters.inc(f"reader_rejected_{rej.reason}")

    def on_state(up: bool, why: str) -> None:
        lane.post(DeviceState("reader", up, why))

    return open_reader(g.id, g.reader.protocol, g.reader.url, baud=g.reader.baud,
                       on_epc=on_epc, on_reject=on_reject, on_state=on_state)


def gate_keypad(g: GateConfig, lane: Lane,
                enter_code: Callable[[str, str, str], Decision]) -> OsdpKeypad:
    """The gate's OSDP keypad: its codes decided by the lane (``enter_code(gate, code,
    source)``), its state the lane's."""
    assert g.keypad is not None
    kp = g.keypad

    def on_code(code: str) -> bool:
        return enter_code(g.id, code, "keypad").opens

    def on_card(epc: str) -> bool | None:
        """A card is a tag (``shared.cards``): decided on the tag path; None (no flash)
        for a card held again while the decision on it stands."""
        d: Decision = lane.call(TagRead(epc, time.monotonic_ns()))
        return None if d.outcome is Outcome.IGNORED else d.opens

    def on_state(up: bool, why: str) -> None:
        lane.post(DeviceState("keypad", up, why))

    return OsdpKeypad(g.id, kp.url, kp.address, bytes.fromhex(kp.scbk), on_code=on_code,
                      on_state=on_state, on_card=on_card, baud=kp.baud)
