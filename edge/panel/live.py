"""What the Live page shows: each lane's vehicle and decision in plain words, the latest
decisions, who is inside (from passes) and the latest alerts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from edge.panel.plain import plain
from shared.vocab import Outcome

if TYPE_CHECKING:
    from edge.daemon import EdgeDaemon

ALERT_WORDS = {
    "credential_mismatch": "tag and plate of different vehicles",
    "barrier_failed": "the barrier did not open",
    "anti_passback": "anti-passback: already on this side",
    "exit_unsubscribed": "left a parking with no subscription",
}


def lock_until(daemon: EdgeDaemon, e: dict[str, Any]) -> datetime | None:
    """The end of the lock that refused a vehicle, from the cache (None: no end, or none)."""
    if e.get("reason") != "tag_locked" or daemon.cache is None:
        return None
    cred = e.get("credential") or {}
    tags = ([t] if (t := daemon.cache.tag(cred.get("value", ""))) else []) \
        if cred.get("kind") == "tag" else daemon.cache.tags_of(e.get("vrn") or "")
    ends = [t.locked_until for t in tags if t.locked and t.locked_until]
    return max(ends) if ends else None


def with_plain(daemon: EdgeDaemon, e: dict[str, Any]) -> dict[str, Any]:
    """A decision event with its plain words."""
    return {**e, "plain": plain(e, lock_until(daemon, e))}


def alert_text(e: dict[str, Any]) -> str:
    """An alert or fault event in a few words."""
    if e["type"] == "fault":
        return f"{e.get('device')} {e.get('state')}" + (f": {e['error']}" if e.get("error")
                                                         else "")
    words = ALERT_WORDS.get(e.get("alert", ""), e.get("alert", ""))
    return f"{words}{' · ' + e['vrn'] if e.get('vrn') else ''}"


def inside(daemon: EdgeDaemon, limit: int = 50) -> list[dict[str, Any]]:
    """Vehicles inside the society (not its parkings), newest first, from passes."""
    if daemon.presence is None:
        return []
    return [{"vrn": vrn, "at": at, "flat": flat}
            for vrn, at, flat in daemon.presence.inside_now(limit)]


def context(daemon: EdgeDaemon) -> dict[str, Any]:
    """Everything the Live page renders."""
    health = daemon.health()
    now = daemon.clock.now()
    for g in health["gates"]:
        c = g.get("current")
        # A vehicle is shown at the gate while it can still be there: decided within the pass
        # window and not yet through. After that the lane is clear (the list keeps it).
        if c and (c.get("passed") or (now - datetime.fromisoformat(c["at"])).total_seconds()
                  > daemon.config.policy.pass_window_s):
            c = None
        g["current"] = with_plain(daemon, c) if c else None
    ring = daemon.ring.after(0, 0, 20_000)
    recent = [with_plain(daemon, e) for e in ring if e["type"] == "decision"
              and e["outcome"] != Outcome.IGNORED.value][-30:][::-1]
    alerts = [{**e, "text": alert_text(e)} for e in ring if e["type"] == "alert"
              or (e["type"] == "fault" and e.get("state") == "down")][-8:][::-1]
    return {"health": health, "recent": recent, "inside": inside(daemon), "alerts": alerts,
            "last_id": daemon.ring.last_id}
