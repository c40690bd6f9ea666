"""The boom's rules, driven by a hand-moved clock (pure logic)."""

from __future__ import annotations

from hardware_sim.barrier import CLOSED, LOWERING, OPEN, RISING, WARNING, BarrierTiming, Boom


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t

    def go(self, dt: float) -> None:
        self.t += dt


def make(**kw):
    clock = Clock()
    timing = BarrierTiming(**{"rise_s": 1.0, "fall_s": 1.0, "auto_close_s": 5.0,
                              "close_after_pass_s": 0.5, **kw})
    return Boom(timing, clock), clock


def test_rises_in_its_rise_time_and_waits():
    boom, clk = make()
    boom.press_open()
    clk.go(0.5)
    assert boom.snapshot().state == RISING and 0.4 < boom.snapshot().position < 0.6
    clk.go(0.6)
    s = boom.snapshot()
    assert s.state == OPEN and s.open_limit and not s.closed_limit


def test_warning_precedes_motion():
    boom, clk = make(warn_s=2.0)
    boom.press_open()
    clk.go(1.0)
    assert boom.snapshot().state == WARNING and boom.snapshot().position == 0
    clk.go(1.1)
    assert boom.snapshot().state == RISING


def test_closes_after_the_vehicle_has_cleared_the_loop():
    boom, clk = make()
    boom.press_open()
    clk.go(1.1)
    boom.snapshot()
    boom.set_loop(True)
    clk.go(3.0)
    assert boom.snapshot().state == OPEN  # held open while occupied
    boom.set_loop(False)
    clk.go(0.3)
    assert boom.snapshot().state == OPEN
    clk.go(0.3)
    assert boom.snapshot().state == LOWERING
    clk.go(1.1)
    assert boom.snapshot().state == CLOSED and boom.snapshot().passes == 1


def test_auto_close_timer_pauses_while_loop_occupied():
    boom, clk = make(close_after_pass_s=100)
    boom.press_open()
    clk.go(1.1)
    boom.snapshot()
    clk.go(3.0)
    boom.set_loop(True)
    clk.go(10.0)
    assert boom.snapshot().state == OPEN
    boom.set_loop(False)
    clk.go(1.5)
    assert boom.snapshot().state == OPEN  # 3.0 + 1.5 of 5 s elapsed
    clk.go(0.6)
    assert boom.snapshot().state == LOWERING


def test_never_lowers_onto_a_vehicle():
    boom, clk = make(auto_close_s=1.0)
    boom.press_open()
    clk.go(1.1)
    boom.snapshot()
    clk.go(1.1)
    assert boom.snapshot().state == LOWERING
    clk.go(0.3)
    low = boom.snapshot().position
    boom.set_loop(True)  # a car noses under the closing boom
    assert boom.snapshot().state == RISING
    clk.go(0.2)
    assert boom.snapshot().position > low


def test_open_press_reverses_a_closing_boom():
    boom, clk = make(auto_close_s=0.5)
    boom.press_open()
    clk.go(1.1)
    boom.snapshot()
    clk.go(0.6)
    assert boom.snapshot().state == LOWERING
    clk.go(0.5)
    assert 0.4 < boom.snapshot().position < 0.6
    boom.press_open()
    assert boom.snapshot().state == RISING
    clk.go(0.6)
    assert boom.snapshot().state == OPEN


def test_stop_overrides_everything():
    boom, clk = make()
    boom.press_open()
    clk.go(0.5)
    boom.set_stop(True)
    pos = boom.snapshot().position
    boom.press_open()
    clk.go(2.0)
    assert boom.snapshot().position == pos
    boom.set_stop(False)
    boom.press_open()
    clk.go(1.0)
    assert boom.snapshot().state == OPEN
