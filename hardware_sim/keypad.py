"""A keypad reader on RS-485, simulated: an OSDP peripheral device (IEC 60839-11-5; libosdp in
PD mode) behind a pseudo-terminal, with a secure channel under its SCBK (the per-reader key).

The edge opens ``port`` as it would ``/dev/ttyUSB0`` and polls the reader as its control panel.
The simulator types codes (``type``: one keypress event per key, ending in ``#``), presents
cards (``card``: a 26-bit Wiegand read of a facility code and card number), and records
the LED and buzzer commands the panel sends back (``leds``, ``buzzes``), each with the monotonic
time it arrived, so a test or a bench can see the reader flash green or red. ``unplug`` and
``plug`` take it off the line and put it back (the edge must raise a device-down alert).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import osdp
import serial

from hardware_sim.ptypair import PtyPair
from shared.cards import wiegand26
from shared.osdp_channel import PeripheralDevice, SerialChannel

COLORS = {osdp.CommandLEDColor.Green: "green", osdp.CommandLEDColor.Red: "red",
          osdp.CommandLEDColor.Amber: "amber", osdp.CommandLEDColor.Black: "off"}


@dataclass(frozen=True)
class Flash:
    """A command the reader received: an LED colour or a buzz, and when."""

    what: str  # green, red, amber, off, or buzz
    at: float  # time.monotonic()


class KeypadSim:
    """One keypad reader at OSDP address *address*."""

    def __init__(self, address: int = 101, scbk: bytes | None = None,
                 baud: int = 115200) -> None:
        self.address = address
        self.scbk = scbk or bytes(range(16))
        self.pty = PtyPair().start()
        self.port_path = self.pty.a  # the edge's end
        self._serial = serial.Serial(self.pty.b, baud, timeout=0)
        self.channel = SerialChannel(self._serial)
        caps = osdp.PDCapabilities([(osdp.Capability.LEDControl, 1, 1),
                                    (osdp.Capability.AudibleControl, 1, 1)])
        self.pd = PeripheralDevice(
            osdp.PDInfo(address, self.channel, scbk=self.scbk, name=f"keypad-{address}"),
            caps, log_level=osdp.LogLevel.Error, command_handler=self._command)
        self.flashes: list[Flash] = []
        self._lock = threading.Lock()
        self._stopped = False

    def start(self) -> KeypadSim:
        """Answer the panel's polls."""
        self.pd.start()
        return self

    def stop(self) -> None:
        """Stop answering and close the line (again: nothing)."""
        if self._stopped:
            return
        self._stopped = True
        self.pd.teardown()
        self._serial.close()
        self.pty.stop()

    def _command(self, cmd: dict) -> tuple[int, dict | None]:
        now = time.monotonic()
        with self._lock:
            if cmd.get("command") == osdp.Command.LED:
                self.flashes.append(Flash(COLORS.get(cmd.get("on_color"), "other"), now))
            elif cmd.get("command") == osdp.Command.Buzzer:
                self.flashes.append(Flash("buzz", now))
        return 0, None

    @property
    def online(self) -> bool:
        """Whether the panel has the reader online over a secure channel."""
        return bool(self.pd.is_online() and self.pd.is_sc_active())

    def type(self, code: str, enter: bool = True, per_key: bool = False) -> float:
        """Type *code* (and ``#``); the monotonic time of the last key. The keys go in one
        keypad reply, as a reader that buffers what was typed sends them, or with *per_key*
        one reply per key (one per poll: slower)."""
        keys = code + ("#" if enter else "")
        at = time.monotonic()
        for chunk in (list(keys) if per_key else [keys]):
            at = time.monotonic()
            self.pd.submit_event({"event": osdp.Event.KeyPress, "reader_no": 0,
                                  "data": chunk.encode()})
        return at

    def card(self, facility: int, number: int) -> float:
        """A card held to the reader: a 26-bit Wiegand read; the monotonic time it was sent."""
        bits, data = wiegand26(facility, number)
        at = time.monotonic()
        self.pd.submit_event({"event": osdp.Event.CardRead, "reader_no": 0, "direction": 0,
                              "length": bits, "format": osdp.CardFormat.Wiegand, "data": data})
        return at

    def leds(self) -> list[Flash]:
        """The LED commands received, oldest first."""
        with self._lock:
            return [f for f in self.flashes if f.what != "buzz"]

    def unplug(self) -> None:
        """Take the reader off the line: the panel stops hearing it."""
        self.channel.open = False

    def plug(self) -> None:
        """Put it back on the line."""
        self.channel.open = True
