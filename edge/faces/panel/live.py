"""What the Live page shows: each lane's vehicle and decision in plain words, the latest
decisions, who is inside (from passes) and the latest alerts, every time on the site's clock
(``edge.faces.panel.times``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from edge.faces.panel.plain import plain
from edge.faces.panel.times import Times
from shared.vocab import Outcome

if TYPE_CHECKING:
    from edge.faces.port import Box

ALERT_WORDS = {
    "credential_mismatch": "tag and plate of different vehicles",
    "barrier_failed": "the barrier did not open",
    "anti_passback": "anti-passback: already on this side",
    "exit_unsubscribed": "left a parking with no subscription",
}


def lock_until(box: Box, e: dict[str, Any]) -> datetime | None:
    """The end of the lock that refused a vehicle, from the cache (None: no end, or none)."""
    if e.get("reason") != "tag_locked" or box.cache is None:
        return None
    cred = e.get("credential") or {}
    tags = ([t] if (t := box.cache.tag(cred.get("value", ""))) else []) \
        if cred.get("kind") == "tag" else box.cache.tags_of(e.get("vrn") or "")
    ends = [t.locked_until for t in tags if t.locked and t.locked_until]
    return max(ends) if ends else None


def with_plain(box: Box, e: dict[str, Any], times: Times) -> dict[str, Any]:
    """A decision event with its plain words and its time in words."""
    gate, until = e.get("gate"), lock_until(box, e)
    words = plain(e, times.when(until, gate) if until else None)
    return {**e, "plain": times.words_in(words, gate),
            "when": times.when(e.get("at"), gate, seconds=True)}


def with_text(e: dict[str, Any], times: Times) -> dict[str, Any]:
    """An alert or fault event with its few words and its time in words."""
    gate = e.get("gate")
    return {**e, "text": times.words_in(alert_text(e), gate),
            "when": times.when(e.get("at"), gate, seconds=True)}


def worded(box: Box, rows: list[dict[str, Any]], times: Times) -> list[dict[str, Any]]:
    """Rows of the event log (``queries.events``) with what their Detail column says: a
    decision in plain words, anything else its detail; times in words either way."""
    out = []
    for r in rows:
        if r["type"] == "decision":
            words = with_plain(box, {**r["data"], "gate": r["gate"], "at": r["at"]},
                               times)["plain"]
        elif r["type"] == "fault":  # which device, up or down, and why
            words = with_text({**r["data"], "type": "fault", "gate": r["gate"]}, times)["text"]
        else:
            who, what = r["guard"], r["detail"]
            words = times.words_in(f"{who}: {what}" if who and what else who or what, r["gate"])
        out.append({**r, "words": words})
    return out


def alert_text(e: dict[str, Any]) -> str:
    """An alert or fault event in a few words."""
    if e["type"] == "fault":
        return f"{e.get('device')} {e.get('state')}" + (f": {e['error']}" if e.get("error")
                                                         else "")
    words = ALERT_WORDS.get(e.get("alert", ""), e.get("alert", ""))
    return f"{words}{' · ' + e['vrn'] if e.get('vrn') else ''}"


def inside(box: Box, times: Times, limit: int = 50) -> list[dict[str, Any]]:
    """Vehicles inside the society (not its parkings), newest first, from passes."""
    if box.presence is None:
        return []
    return [{"vrn": vrn, "at": at, "flat": flat, "when": times.when(at)}
            for vrn, at, flat in box.presence.inside_now(limit)]


def context(box: Box) -> dict[str, Any]:
    """Everything the Live page renders."""
    health = box.health()
    times = Times.of(box)
    for g in health["gates"]:
        # The lane says which vehicle is in front of it (``edge.lanes.view.InFront``): a
        # refused car stays for as long as its tag or plate is still read.
        c = g.get("current")
        g["current"] = with_plain(box, c, times) if c else None
    ring = box.ring.after(0, 0, 20_000)
    recent = [with_plain(box, e, times) for e in ring if e["type"] == "decision"
              and e["outcome"] != Outcome.IGNORED.value][-30:][::-1]
    alerts = [with_text(e, times) for e in ring if e["type"] == "alert"
              or (e["type"] == "fault" and e.get("state") == "down")][-8:][::-1]
    return {"health": health, "recent": recent, "inside": inside(box, times),
            "alerts": alerts, "last_id": box.ring.last_id, "t": times}
