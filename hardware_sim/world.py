"""The simulated site: per gate a reader, a relay board with its boom, and vehicles.

All boards sit behind one Modbus TCP gateway (one unit id per gate), as a real installation
with several boards on one RS-485 line behind a gateway does.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from hardware_sim.barrier import BarrierTiming, Boom
from hardware_sim.camera import SimCamera
from hardware_sim.keypad import KeypadSim
from hardware_sim.reader import ReaderFaults, SimReader
from hardware_sim.relay_board import BoardBank, BoardServer, RelayBoard

log = logging.getLogger(__name__)
KEYPAD_SCBK = "a1b2c3d4e5f60718293a4b5c6d7e8f90"  # the simulated keypads' secure channel key


@dataclass
class SimGate:
    """One lane."""

    id: str
    unit: int
    reader: SimReader
    board: RelayBoard
    boom: Boom
    camera: SimCamera | None = None
    keypad: KeypadSim | None = None
    busy: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class VehicleResult:
    """What happened to one vehicle at a gate."""

    gate: str
    epc: str | None
    opened: bool
    passed: bool
    waited_s: float


class SimWorld:
    """Readers, relay boards and booms for a set of gates, speaking the real protocols."""

    def __init__(self, gate_ids: list[str], *, timing: BarrierTiming | None = None,
                 reader_rate_hz: float = 20.0, reader_transport: str = "tcp",
                 over_loop_s: float = 0.3, faults: ReaderFaults | None = None,
                 cameras: set[str] | None = None, camera_fps: float = 10.0,
                 keypads: set[str] | None = None) -> None:
        self.gate_ids = gate_ids
        self.timing = timing or BarrierTiming(rise_s=0.3, fall_s=0.3, auto_close_s=5.0,
                                              close_after_pass_s=0.2)
        self.reader_rate_hz = reader_rate_hz
        self.reader_transport = reader_transport
        self.over_loop_s = over_loop_s
        self.faults = faults
        self.cameras = cameras or set()
        self.camera_fps = camera_fps
        self.keypads = keypads or set()
        self.bank = BoardBank()
        self.server: BoardServer | None = None
        self.gates: dict[str, SimGate] = {}

    def start(self) -> None:
        """Open every port."""
        for unit, gid in enumerate(self.gate_ids, start=1):
            boom = Boom(self.timing)
            board = self.bank.add(RelayBoard(unit, boom))
            reader = SimReader(gid, transport=self.reader_transport,
                               rate_hz=self.reader_rate_hz, faults=self.faults)
            reader.start()
            cam = SimCamera(gid, fps=self.camera_fps).start() if gid in self.cameras else None
            pad = KeypadSim(101, bytes.fromhex(KEYPAD_SCBK)).start() \
                if gid in self.keypads else None
            self.gates[gid] = SimGate(gid, unit, reader, board, boom, cam, pad)
        self.server = BoardServer(self.bank)
        self.server.start()

    def stop(self) -> None:
        """Close every port."""
        for g in self.gates.values():
            g.reader.stop()
            if g.camera:
                g.camera.stop()
            if g.keypad:
                g.keypad.stop()
        if self.server:
            self.server.stop()

    def edge_wiring(self, gate_id: str) -> dict:
        """The ``reader`` and ``relay`` sections of the edge config for this gate."""
        g = self.gates[gate_id]
        assert self.server is not None
        wiring: dict = {
            "reader": {"url": g.reader.url, "protocol": "uhf18", "baud": 57600},
            "relay": {"url": self.server.url, "unit": g.unit, "relay": 1, "hold_relay": 2,
                      "loop_input": 1, "open_input": 2, "closed_input": 3},
        }
        if g.camera:
            wiring["camera"] = {"url": g.camera.url}
        if g.keypad:
            wiring["keypad"] = {"url": g.keypad.port_path, "address": g.keypad.address,
                                "scbk": KEYPAD_SCBK}
        return wiring

    def vehicle(self, gate_id: str, epc: str | None = None, *, drive_through: bool = True,
                give_up_after: float = 3.0, lane_clear_timeout: float = 10.0,
                arrived: threading.Event | None = None,
                plate_image: str | None = None) -> VehicleResult:
        """A vehicle drives up, waits for the boom, drives through (or gives up) and leaves.

        It pulls up only once the lane is clear (boom down, loop empty), as the next car in a
        queue does, so one vehicle's pass is never credited to another.
        """
        g = self.gates[gate_id]
        with g.busy:
            g.boom.wait_for(lambda s: s.closed_limit and not s.loop, lane_clear_timeout)
            start = time.monotonic()
            if plate_image is not None and g.camera is not None:
                g.camera.show(plate_image)
            if epc:
                g.reader.tag_enter(epc)
            if arrived is not None:
                arrived.set()
            try:
                opened = g.boom.wait_for(lambda s: s.open_limit, give_up_after)
                passed = False
                if opened and drive_through:
                    g.boom.set_loop(True)
                    time.sleep(self.over_loop_s)  # the car's length over the loop
                    g.boom.set_loop(False)
                    passed = True
            finally:
                if epc:
                    g.reader.tag_leave(epc)
                if plate_image is not None and g.camera is not None:
                    g.camera.clear()
            return VehicleResult(gate_id, epc, opened, passed, time.monotonic() - start)

    def state(self) -> dict:
        """Every gate's boom, relays and reader field."""
        out = {}
        for gid, g in self.gates.items():
            s = g.boom.snapshot()
            out[gid] = {"boom": s.state, "position": round(s.position, 2), "loop": s.loop,
                        "opens": s.opens, "passes": s.passes, "relays": list(g.board.coils),
                        "in_field": g.reader.in_field(), "reader_url": g.reader.url,
                        "relay_url": self.server.url if self.server else None, "unit": g.unit}
        return out
