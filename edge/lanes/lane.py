"""One gate's lane: the single owner of what the gate knows about the vehicle in front of it.

Every input (tag reads, plate reads, the board's inputs, device states, rules changes, signed
commands, the guard's opens) arrives as a message; one thread per lane handles them in order,
so nothing else reads or writes the lane's state. Callers that need an answer (a command's
response, the guard's decision) wait on a future. The rules over that state are pure
(``edge.core.lane``, ``edge.core.decide``); the messages are in ``edge.lanes.messages``; what
must survive a restart is in ``edge.store.lanes``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from edge.adapters.relay import BarrierActuator, GateInputs
from edge.config import GateConfig, PolicyConfig
from edge.core import lane as rules
from edge.core.decide import decide
from edge.core.lane import Held, Window
from edge.core.types import Credential, Decision, GateInfo, PlateEvidence, Policy
from edge.lanes import messages as m
from edge.lanes.boom import Boom
from edge.lanes.codes import CodeDesk
from edge.lanes.commands import command_decision, guard_decision
from edge.lanes.devices import Devices
from edge.lanes.mailbox import Mailbox
from edge.lanes.recorder import Recorder
from edge.lanes.view import InFront, LaneView, pass_event
from edge.lanes.walkins import walkin_decision
from edge.peers.exchange import SpendPeers
from edge.store import visitors
from edge.store.cache import Presence
from edge.store.lanes import LaneStore, horizon
from shared.clock import Clock
from shared.contract import CommandResponse
from shared.vocab import CredentialKind, Outcome, Reason
from shared.wire import events as wire

log = logging.getLogger(__name__)

TICK_S = 0.2  # timers run at least this often
TOUCH_S = 1.0  # how often the time held credentials were last read is written down


class Lane:
    """A gate, its devices, and the vehicle at it."""

    def __init__(self, cfg: GateConfig, *, policy: Policy, tunables: PolicyConfig,
                 clock: Clock, view: LaneView, recorder: Recorder, store: LaneStore,
                 presence: Presence, barrier: BarrierActuator | None,
                 min_score: tuple[int, float] = (1, 0.9),
                 spends: SpendPeers | None = None) -> None:
        self.cfg = cfg
        self.id = cfg.id
        self.info = GateInfo(cfg.id, cfg.site, cfg.direction, cfg.credentials, cfg.mismatch,
                             cfg.anti_passback or tunables.anti_passback,
                             frozenset(CredentialKind(k) for k in cfg.accepts)
                             if cfg.accepts is not None else None, cfg.agree)
        self.policy, self.tunables, self.clock = policy, tunables, clock
        self.view, self.recorder, self.store = view, recorder, store
        self.codes = CodeDesk(self.id, cfg.site, cfg.keypad, recorder,  # codes, keypad lock
                              spends, cfg.camera)
        self.presence, self.barrier = presence, barrier
        self.agreeing_reads, self.instant_score = min_score
        self.devices = Devices()
        self.boom = Boom()
        self.mailbox = Mailbox(f"lane-{cfg.id}", self._handle, self._timers, tick_s=TICK_S,
                               on_error=lambda: recorder.counters.inc("lane_errors"))
        self._held: dict[str, Held] = {}
        self._creds: dict[str, Credential] = {}
        self._dirty: set[str] = set()  # held credentials read again since last written down
        self._window = Window()
        self._stamp = 1
        self._confirm = rules.Confirmations(cfg.confirm_reads, cfg.confirm_window_ms / 1000)
        self._agreeing: tuple[str, int] = ("", 0)
        self._front: InFront | None = None  # the vehicle at the gate, as last decided
        self._touched = time.monotonic()

    # Life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Restore what the lane remembers, settle a crash's unrecorded opens, start."""
        now = self.clock.now()
        self._held = self.store.held(self.id, horizon(now, self.policy.dedup_hold_s))
        self.boom.awaiting = self.store.awaiting(self.id)
        for decision, held in self.store.intents(self.id):
            self.recorder.event(self.id, now, wire.OpenUnconfirmedData(
                decision=decision, vrn=held.vrn, intended_at=held.decided_at.isoformat(),
                detail="the daemon stopped between the decision and the pulse's record; "
                       "the relay may or may not have pulsed"),
                also=self._settle_intent(decision, held))
            if held.seen_at >= horizon(now, self.policy.dedup_hold_s):
                self._held[held.key] = held  # still in the field: never opened again
            self.recorder.counters.inc("opens_unconfirmed")
        self.devices.expect([d for d in ("reader", "relay", "keypad") if self._has(d)],
                            time.monotonic())
        self.mailbox.start()

    def _settle_intent(self, decision: str, held: Held) -> Callable[[Any], None]:
        def done(c: Any) -> None:
            self.store.done(c, decision)
            self.store.keep(c, self.id, held)

        return done

    def _has(self, device: str) -> bool:
        if device == "keypad":
            return self.cfg.keypad is not None
        return bool(self.cfg.reader) if device == "reader" else self.barrier is not None

    # The mailbox -----------------------------------------------------------------------------
    def post(self, msg: object) -> None:
        """Hand the lane an input; returns at once."""
        self.mailbox.post(msg)

    def call(self, msg: object, timeout: float = 10.0) -> Any:
        """Hand the lane an input and wait for its answer."""
        return self.mailbox.call(msg, timeout)

    def alive(self) -> bool:
        """Whether the lane's thread runs."""
        return self.mailbox.alive()

    def last_progress(self) -> float:
        """When the lane's thread last went round its loop (monotonic)."""
        return self.mailbox.progress

    def restart(self) -> None:
        """Start a thread that died (the supervisor's call)."""
        self.mailbox.restart()

    def stop(self) -> None:
        """Stop the thread, answering whatever still waits."""
        self.mailbox.stop()

    def _handle(self, msg: object) -> Any:
        match msg:
            case m.TagRead():
                return self._tag(msg)
            case m.PlateRead():
                return self._plate(msg)
            case m.Inputs(inputs=inputs):
                return self._inputs(inputs)
            case m.DeviceState(device=device, up=up, why=why):
                return self._device(device, up, why)
            case m.RulesChanged():
                self._stamp += 1
                return self._redecide()
            case m.Command():
                return self._command(msg)
            case m.GuardOpen():
                return self._guard(msg)
            case m.CodeEntry():
                return self._code(msg)
            case m.VisitorOpen():
                return self._visitor(msg)
            case m.Release(user=user):
                return self._release(user)
            case m.ClearCodeLock(user=user):
                return self.codes.clear(self.clock.now(), user)
        raise TypeError(f"unknown lane message {msg!r}")

    # Credentials -----------------------------------------------------------------------------
    def _tag(self, msg: m.TagRead) -> Decision:
        now = self.clock.now()
        cred = Credential.tag(msg.epc)
        held = self._held.get(cred.key)
        if not rules.in_field(held, now, self.policy) and \
                not self._confirm.confirmed(cred.key, time.monotonic()):
            return Decision(Outcome.IGNORED, Reason.CREDENTIAL_PENDING, self.id, cred, now,
                            detail=f"waiting for {self.cfg.confirm_reads} identical reads")
        if held is not None and rules.holds(held, now, self.policy, self._stamp):
            return self._duplicate(cred, held, now, msg.frame_ns)
        decision = decide(cred, self.info, self.view.of(self._window), now, self.policy)
        read = {"credential": {"kind": "tag", "value": cred.value}}
        return self._settle(cred, decision, held, now, msg.frame_ns, read)

    def _plate(self, msg: m.PlateRead) -> bool:
        now = self.clock.now()
        decision = decide(Credential.plate(msg.evidence), self.info,
                          self.view.of(self._window), now, self.policy)
        cred = decision.credential
        held = self._held.get(cred.key)
        if held is not None and rules.holds(held, now, self.policy, self._stamp):
            self._duplicate(cred, held, now, msg.frame_ns)
            return True
        if not msg.final and decision.reason in (Reason.UNKNOWN_CREDENTIAL,
                                                 Reason.LOW_CONFIDENCE):
            return False
        if decision.reason is Reason.PLATE_VALID and not self._agreed(decision, msg.evidence):
            if not msg.final:
                return False
            decision = replace(decision, outcome=Outcome.DENY, reason=Reason.LOW_CONFIDENCE,
                               detail="too few agreeing reads")
        read = {"credential": {"kind": "plate", "value": msg.evidence.best[0]},
                "candidates": [[t, round(s, 3)] for t, s in msg.evidence.candidates]}
        self._settle(cred, decision, held, now, msg.frame_ns, read, (msg.frame, msg.box))
        self._agreeing = ("", 0)  # the next vehicle starts counting afresh
        return True

    def _agreed(self, decision: Decision, evidence: PlateEvidence) -> bool:
        ok, self._agreeing = rules.agreed(self._agreeing, decision, evidence,
                                          self.agreeing_reads, self.instant_score)
        return ok

    def _duplicate(self, cred: Credential, held: Held | None, now: datetime,
                   frame_ns: int, detail: str = "") -> Decision:
        if held is not None:
            self._held[cred.key] = rules.seen(held, now)
            self._dirty.add(cred.key)
        if self._front is not None:  # its tag or plate still read: the vehicle is still there
            self._front = self._front.seen(cred.key, now)
        d = Decision(Outcome.IGNORED, Reason.DUPLICATE_READ, self.id, cred, now,
                     held.vrn if held else None, detail=detail)
        self.recorder.ignored(self.id, d, self.recorder.decision_payload(self.cfg.site, d),
                              frame_ns)
        return d

    def _settle(self, cred: Credential, decision: Decision, held: Held | None, now: datetime,
                frame_ns: int, read: dict[str, Any],
                image: tuple[Any, Any] | None = None) -> Decision:
        """Record a decision the lane made on a credential, unless it repeats one that
        stands or opens again for the vehicle already let through."""
        if rules.opened_already(self._window, decision, self.policy):
            return self._duplicate(cred, held, now, frame_ns,
                                   f"already opened for {decision.vrn}")
        if held is not None and rules.unchanged(held, decision, now, self.policy):
            self._held[cred.key] = replace(held, seen_at=now, decided_at=now,
                                           stamp=self._stamp)
            return self._duplicate(cred, None, now, frame_ns)
        self._creds[cred.key] = cred
        if decision.credential.key != cred.key:
            self._creds[decision.credential.key] = decision.credential
        return self._record(decision, now, frame_ns, read, image)

    def _record(self, decision: Decision, now: datetime, frame_ns: int, read: dict[str, Any],
                image: tuple[Any, Any] | None = None,
                extra: dict[str, Any] | None = None,
                with_open: Callable[[Any], None] | None = None) -> Decision:
        base = self.recorder.decision_payload(self.cfg.site, decision, extra)
        keep = rules.held_of(decision, now, self._stamp)
        self._window = rules.note(self._window, decision)
        cred = decision.credential
        self._front = InFront({"at": now.isoformat(), "gate": self.id, **base.wire()},
                              cred.key if cred.kind in rules.VEHICLE_KINDS else "", now, now)
        if decision.outcome is Outcome.IGNORED:
            self._held[keep.key] = keep
            self.recorder.ignored(self.id, decision, base, frame_ns)
            return decision

        def also(c: Any, event_id: str) -> None:
            if decision.opens:  # the hold is written with the open, after the pulse
                self.store.intend(c, self.id, event_id, keep)
                if with_open is not None:
                    with_open(c)
            else:
                self.store.keep(c, self.id, keep)

        ev = self.recorder.decision(self.id, decision, base, read, frame_ns, image, also)
        self._front = replace(self._front, data={**self._front.data, "event_id": ev.id})
        self._held[keep.key] = keep
        if decision.opens:
            self._open(decision, ev.id, frame_ns, now, keep)
        return decision

    def _redecide(self) -> None:
        """Decide again a refused plate whose decision may no longer stand, while its vehicle
        is on the loop. (A tag needs no timer: while it is in the field the reader repeats
        it, and the next read is decided again; a tag that left is never opened for.)"""
        if not (self.boom.inputs and self.boom.inputs.loop):
            return
        now = self.clock.now()
        for key, held in list(self._held.items()):
            cred = self._creds.get(key)
            if cred is None or cred.kind is not CredentialKind.PLATE or \
                    not rules.due(held, now, self.policy, self._stamp):
                continue
            decision = decide(cred, self.info, self.view.of(self._window), now, self.policy)
            read = {"credential": {"kind": str(cred.kind), "value": cred.value},
                    "redecided": True}
            self._settle(cred, decision, held, now, time.monotonic_ns(), read)

    # Opens and passes ------------------------------------------------------------------------
    def _open(self, decision: Decision, decision_id: str, frame_ns: int, now: datetime,
              keep: Held) -> None:
        if self.barrier is None:
            ok, ack_ns, error = False, time.monotonic_ns(), "no relay configured"
        else:
            res = self.barrier.open(self.cfg.pulse_ms)
            ok, ack_ns, error = res.ok, res.ack_mono_ns, res.error
        data = wire.OpenData(decision=decision_id, ok=ok, vrn=decision.vrn,
                             pulse_ms=self.cfg.pulse_ms,
                             read_to_ack_ms=round((ack_ns - frame_ns) / 1e6, 3), error=error)

        def also(c: Any) -> None:
            self.store.done(c, decision_id)
            self.store.keep(c, self.id, keep)
            if ok:
                self.store.await_pass(c, self.id, decision.vrn, now, decision_id)

        self.recorder.event(self.id, now, data, also,
                            live={"ack_mono_ns": ack_ns, "frame_mono_ns": frame_ns})
        if ok:
            confirm = self.tunables.open_confirm_s
            self.boom.opened(decision.vrn, now, decision_id,
                             time.monotonic() + confirm if confirm > 0 else None)
            self.recorder.counters.inc("opens")
        else:
            self.recorder.counters.inc("open_failures")
            self.recorder.alert(self.id, now, wire.AlertData(alert=wire.AlertKind.BARRIER_FAILED,
                                decision=decision_id, vrn=decision.vrn, detail=error))

    def _inputs(self, inputs: GateInputs | None) -> None:
        self._device("relay", inputs is not None, "" if inputs else "inputs unreadable")
        if inputs is None:
            return
        reading = self.boom.read(inputs)
        if inputs.loop:  # a plate at the loop is still in the field
            now = self.clock.now()
            for key, held in list(self._held.items()):
                if key.startswith(f"{CredentialKind.PLATE}:"):
                    self._held[key] = rules.seen(held, now)
                    self._dirty.add(key)
                    if self._front is not None:
                        self._front = self._front.seen(key, now)
        if reading.passed:
            self._on_pass()
        if reading.came_down:
            self._window = rules.closed(self._window)
        if reading.latch:
            self._hold(True, "guard")

    def _on_pass(self) -> None:
        """A vehicle cleared the loop: record the pass, flip its presence, end its window."""
        now = self.clock.now()
        awaiting = self.boom.take_awaiting()
        self._window = rules.passed(self._window)
        self._front = None  # it went through: the lane is clear
        ev = pass_event(self.info, self.view, awaiting, now,
                        timedelta(seconds=self.tunables.pass_window_s))

        def also(c: Any) -> None:
            self.store.end_wait(c, self.id)
            if ev.area is not None:
                self.presence.set(c, ev.area, ev.entering, now)

        self.recorder.event(self.id, now, ev.data, also)
        self.recorder.counters.inc("passes")

    # Commands and the guard ------------------------------------------------------------------
    def _command(self, msg: m.Command) -> CommandResponse:
        now = self.clock.now()
        decision, cause, read = command_decision(msg.cmd, msg.retained, self.info,
                                                 self.recorder.cache, self.view,
                                                 self.presence, now)
        self.recorder.counters.inc(f"command_{cause or 'accepted'}")
        self._record(decision, now, time.monotonic_ns(), read)
        cid = decision.credential.value
        data = {"outcome": decision.outcome.value, "reason": decision.reason.value,
                "cause": cause}
        return CommandResponse(transaction=cid, status="error" if cause else "ok", data=data,
                               error=cause or None)

    def _guard(self, msg: m.GuardOpen) -> Decision:
        now = self.clock.now()
        if msg.hold and not self.hold_wired:
            raise ValueError(f"gate {self.id} has no hold relay wired (relay.hold_relay)")
        decision, read, extra = guard_decision(self.id, msg.user, msg.role, msg.reason,
                                               msg.vrn, now)
        if msg.hold:
            extra["guard"]["hold"] = True
            self.boom.hold_pending = True
        self.recorder.counters.inc("guard_overrides")
        return self._record(decision, now, time.monotonic_ns(), read, extra=extra)

    def _code(self, msg: m.CodeEntry) -> Decision:
        """A code typed, shown or told to the guard (``edge.lanes.codes``)."""
        now = self.clock.now()
        view = self.view.of(self._window)
        decision, read, extra, spend = self.codes.enter(
            msg, now, view, lambda cred: decide(cred, self.info, view, now, self.policy))
        return self._record(decision, now, time.monotonic_ns(), read, extra=extra,
                            with_open=spend)

    def _visitor(self, msg: m.VisitorOpen) -> Decision:
        """The guard opens for a walk-in the flat approved (``edge.lanes.walkins``)."""
        now = self.clock.now()
        decision, read, extra, inside = walkin_decision(self.id, self.cfg.site, msg.request,
                                                        msg.user, msg.role, now)
        self.recorder.counters.inc("visitor_opens")
        return self._record(decision, now, time.monotonic_ns(), read, extra=extra,
                            with_open=lambda c: visitors.came_in(c, inside))

    @property
    def hold_wired(self) -> bool:
        """Whether the gate's operator has a hold (STOP) input on a relay of the board."""
        return self.cfg.relay is not None and self.cfg.relay.hold_relay is not None

    def _hold(self, on: bool, by: str) -> bool:
        assert self.barrier is not None
        ok = self.barrier.hold(on)
        if ok:
            self.boom.held = on
        self.recorder.event(self.id, self.clock.now(), wire.HoldData(held=on, by=by, ok=ok))
        return ok

    def _release(self, user: str) -> bool:
        """The guard lets a held boom close (by its own timer, never onto a vehicle)."""
        self.boom.hold_pending = False
        if not self.hold_wired:
            raise ValueError(f"gate {self.id} has no hold relay wired (relay.hold_relay)")
        return self._hold(False, user)

    # Devices and timers ----------------------------------------------------------------------
    @property
    def inputs(self) -> GateInputs | None:
        """The board's last inputs (loop, limits)."""
        return self.boom.inputs

    @property
    def reader_ok(self) -> bool | None:
        """The reader's line: up, down, or not known yet."""
        return self.devices.state["reader"]

    @property
    def relay_ok(self) -> bool | None:
        """The relay board: answering, not, or not known yet."""
        return self.devices.state["relay"]

    def _device(self, device: str, up: bool, why: str) -> None:
        if (change := self.devices.report(device, up, why, time.monotonic())) is not None:
            self._fault(device, *change)

    def _fault(self, device: str, up: bool, why: str) -> None:
        if self.mailbox.stopping:
            return
        data = wire.FaultData(device=device, state="up" if up else "down", error=why)
        log.log(logging.INFO if up else logging.WARNING, "gate %s: %s %s%s", self.id, device,
                data.state, f" ({why})" if why else "")
        try:
            self.recorder.event(self.id, self.clock.now(), data)
        except Exception:
            log.exception("could not record %s state", device)

    def _timers(self) -> None:
        mono = time.monotonic()
        for device, why in self.devices.overdue(mono, self.tunables.device_wait_s):
            log.error("gate %s: %s not up %.0f s after start: %s", self.id, device,
                      self.tunables.device_wait_s, why)
            self._fault(device, False, f"not up since start: {why}")
        if (decision_id := self.boom.overdue(mono)) is not None:
            self.recorder.alert(self.id, self.clock.now(), wire.AlertData(
                alert=wire.AlertKind.BARRIER_FAILED, decision=decision_id,
                detail="the boom did not reach its open limit"))
        if self._held:
            self._redecide()
        if self._front is not None and not self._front.there(
                self.clock.now(), self.tunables.pass_window_s, self.policy.dedup_hold_s):
            self._front = None  # not read for the hold, nor let through within the window
        if mono - self._touched >= TOUCH_S:
            self._touched = mono
            self._forget()

    def _forget(self) -> None:
        """Write down when held credentials were read again; drop those out of the field.
        Only what changed is written, so a lane of passing cars writes nothing here."""
        now = self.clock.now()
        edge = horizon(now, self.policy.dedup_hold_s)
        gone = [k for k, h in self._held.items() if h.seen_at < edge]
        for key in gone:
            self._held.pop(key, None)
            self._creds.pop(key, None)
        seen = [self._held[k] for k in self._dirty if k in self._held]
        self._dirty.clear()
        if seen or gone:
            self.store.touch(self.id, seen, edge)

    # Introspection ---------------------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        """The lane at a glance (health, panel)."""
        i = self.boom.inputs
        return {
            "id": self.id, "site": self.cfg.site, "direction": self.cfg.direction.value,
            "loop": i.loop if i else None, "open_limit": i.open_limit if i else None,
            "closed_limit": i.closed_limit if i else None,
            "relay_ok": self.relay_ok, "reader_ok": self.reader_ok,
            "keypad_ok": self.devices.state["keypad"],
            "codes_locked": self.codes.locked_until(self.clock.now()),
            "anti_passback": self.info.anti_passback.value,
            "awaiting_pass": self.boom.awaiting[0] if self.boom.awaiting else None,
            "boom": self.boom.label(),
            "queue": self.mailbox.size(), "errors": self.mailbox.errors,
            "restarts": self.mailbox.restarts,
            "hold_wired": self.hold_wired, "held_open": self.boom.held,
            "current": front.as_dict() if (front := self._front) else None,
        }
