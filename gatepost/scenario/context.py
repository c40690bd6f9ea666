"""What a step may use of the run it is part of: the stack, the scenario's set-up, what earlier
steps left for later ones, and three waits. The runner provides it; steps see nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from gatepost.devstack.stack import Stack
from gatepost.scenario.defs import ScenarioSetup

EventTest = Callable[[dict[str, Any]], Any]  # truthy: the event sought


class Run(Protocol):
    """One scenario being played, as its steps see it."""

    stack: Stack
    sites: list[str]  # the scenario's site ids, the first being the default
    site_of_gate: dict[str, str]
    edge_running: bool  # False between an ``edge: kill|stop`` and the next start
    # What earlier steps left for later ones, by the scenario's names:
    guard_clients: dict[str, Any]  # panel sessions of ``guard`` steps, by user
    refs: dict[str, str]  # subscription ids by the scenario's ref names
    resident_keys: dict[str, str]  # API keys of ``remote_open`` residents
    resident_apps: dict[str, Any]  # the resident app of each cloud.residents
    resident_ids: dict[str, str]  # their ids in the cloud, asked once
    partner_keys: dict[str, str]  # the partner API's keys of ``partner_read``
    arrivals: dict[str, Any]  # the last ``arrive`` vehicle of each gate
    codes: dict[str, dict[str, Any]]  # visitor passes by the scenario's refs
    walkins: dict[str, dict[str, Any]]  # walk-in requests by the scenario's refs

    @property
    def sc(self) -> ScenarioSetup:
        """The scenario file's set-up (its sites, the cloud's set-up, …)."""
        ...

    def await_event(self, cursor: int, test: EventTest, timeout: float
                    ) -> dict[str, Any] | None:
        """The first edge event after *cursor* that passes *test*, within *timeout* s."""
        ...

    def wait_synced(self, got: dict[str, Any]) -> list[str]:
        """Wait until the edge holds the rules version a step made (``got``'s ``site`` and
        ``rules_version``; adds ``synced_ms``) while the uplink is live; an error if late."""
        ...

    def image_path(self, name: str) -> str:
        """A plate photograph a step names: absolute, under $GATEPOST_PLATES, or beside the
        scenario file."""
        ...
