"""Waits that keep a scenario's steps meaning what they say on a busy machine: a link or a
broker that comes back is back once the box has caught up on the rules it missed, and a jump
of the clock stands for time in which what the box had sent reached the cloud."""

from __future__ import annotations

from gatepost.devstack.stack import wait_until
from gatepost.scenario.context import Run

CATCH_UP_S = 5.0  # a box back online holds the cloud's rules within this, or the step fails
SETTLE_S = 5.0  # how long a clock jump waits for the box's outbox to empty, at most


def uplink_live(run: Run) -> bool:
    """Whether the edge runs and can reach the cloud (its link and the broker are up)."""
    st = run.stack
    return bool(run.edge_running and st.mqtt_link and st.mqtt_link.is_up
                and st.broker.running)


def cloud_versions(run: Run) -> dict[str, int]:
    """Each of the run's sites' current rules version at the cloud."""
    out: dict[str, int] = {}
    for site in run.sites:
        snap = run.stack.cloud.get(f"/api/v1/sites/{site}/rules")
        if snap.status_code == 200:
            out[site] = int(snap.json()["version"])
    return out


def caught_up(run: Run) -> list[str]:
    """Wait until the edge holds every site's current rules version (what changed while it
    was cut off); an error per site it does not reach within ``CATCH_UP_S``."""
    errors: list[str] = []
    if not uplink_live(run):
        return errors
    for site, version in cloud_versions(run).items():
        try:
            run.stack.wait_edge_version(site, version, CATCH_UP_S)
        except TimeoutError as exc:
            errors.append(f"the box did not catch up after coming back: {exc}")
    return errors


def settle(run: Run) -> None:
    """Before the clock jumps: wait (up to ``SETTLE_S``) until the cloud has acknowledged
    every event the box holds, as it would have in the time the jump stands for, so that
    the cloud's jobs see them (a car that went in is inside). Events the cloud refuses stay
    unacknowledged; the wait then ends at ``SETTLE_S`` without an error."""
    if not uplink_live(run):
        return
    try:
        wait_until(lambda: run.stack.edge_health()["outbox"] == 0, SETTLE_S,
                   what="the box's outbox acknowledged")
    except TimeoutError:
        pass
