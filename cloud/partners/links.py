"""A society's partner app and its residents' links to it.

Staff integrate a society with one partner: its mode (``opt_out``: residents are connected when
they activate a tag unless they opt out, MyGate's way; ``opt_in``: they are offered it and
connected when they opt in), its endpoint and its credential, which is stored for the cloud's own
calls and never returned. After an activation at such a society, the resident's vehicle is
connected (opt-out) or offered (opt-in). The partner answers ``connected``; ``user_not_found``
with the reason the resident is told apart, each with its next step; or anything else, an
``error``: try again later from the vehicle page. A resident opts in (which also retries) and out
at any time; opting out cancels the vehicle's events still queued for the partner. A link
belongs to its resident: when they leave it is ``disconnected`` (its queued events cancelled,
the partner told), and a later owner of the car connects under their own name.

The endpoint must not be an internal address (``cloud.outbound``) unless the operator
allows it; each society gets a signing secret (``whsec_…``, shown to the admin who integrates
it) with which every call to its partner is signed.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from cloud.errors import CloudError
from cloud.outbound import CallFailed, TargetRefused, Targets
from cloud.partners.client import (
    DEFAULT_MODE,
    NAMES,
    PARTNERS,
    Connection,
    Partner,
    PartnerClient,
    PartnerError,
)
from cloud.people.vehicle_tags import vehicle_of
from cloud.refusals import Refusal
from cloud.storage import Database, Row, Tx, residents, society
from cloud.storage import partners as store
from shared import webhooks
from shared.clock import Clock

log = logging.getLogger(__name__)
ENDPOINT = re.compile(r"^https?://[^\s]+$")
NEXT_STEP = {
    "app_not_installed": "install the {p} app and sign up with this phone number, then try "
                         "again from the vehicle page",
    "different_phone": "your {p} account uses another phone number: change it in {p} (or "
                       "here) so both match, then try again",
    "not_mapped_to_society": "your {p} account is not a member of this society yet: ask the "
                             "society's {p} admin to add your flat, then try again",
    "error": "{p} could not be reached: try again later from the vehicle page",
    "offered": "connect to {p} to see your entries and exits there",
    "resident_left": "the resident who connected this vehicle left: its owner now connects "
                     "it to {p} from the vehicle page",
}


def _partner(row: Row) -> Partner:
    return Partner(row["partner"], row["endpoint"], row["credential"],
                   row["signing_secret"] or "")


def view(link: Row | None, partner: str) -> dict[str, Any]:
    """A link as the resident app and staff see it: state, reason and the next step."""
    state = link["state"] if link is not None else "offered"
    reason = link["reason"] if link is not None else None
    step = NEXT_STEP.get(reason or state)
    out: dict[str, Any] = {"partner": partner, "state": state, "reason": reason,
                           "next_step": step.format(p=NAMES[partner]) if step else None}
    if link is not None:
        out |= {"opted_in": None if link["opted_in"] is None else bool(link["opted_in"]),
                "updated_at": link["updated_at"]}
    return out


class PartnerLinks:
    """Societies' partners and residents' links."""

    def __init__(self, db: Database, clock: Clock, client: PartnerClient,
                 targets: Targets | None = None) -> None:
        self.db = db
        self.clock = clock
        self.client = client
        self.targets = targets or Targets()

    # Staff ------------------------------------------------------------------------------------
    def configure(self, site: str, partner: str, mode: str | None, endpoint: str,
                  credential: str) -> dict[str, Any]:
        """Integrate *site* with *partner* (its default mode unless *mode* says); the answer
        carries the society's signing secret (kept when it was integrated before)."""
        if partner not in PARTNERS:
            raise CloudError(422, Refusal.UNKNOWN_PARTNER, f"partners are {', '.join(PARTNERS)}")
        if mode not in (None, "opt_in", "opt_out"):
            raise CloudError(422, Refusal.BAD_MODE, "mode is opt_in or opt_out")
        if not ENDPOINT.match(endpoint) or not credential:
            raise CloudError(422, Refusal.BAD_PARTNER, "an http(s) endpoint and a credential are "
                             "needed")
        try:
            self.targets.check_url(endpoint)
        except TargetRefused as exc:
            raise CloudError(422, Refusal.INTERNAL_ENDPOINT, str(exc)) from exc
        except CallFailed as exc:
            raise CloudError(422, Refusal.BAD_PARTNER, str(exc)) from exc
        with self.db.write() as c:
            if not society.site_exists(c, site):
                raise CloudError(404, Refusal.UNKNOWN_SITE, f"site {site!r} does not exist")
            old = store.site_partner(c, site)
            secret = (old["signing_secret"] if old is not None else None) or \
                webhooks.new_secret()
            store.set_site_partner(c, site, partner, mode or DEFAULT_MODE[partner], endpoint,
                                   credential, secret, self.clock.now().isoformat())
        return self.config(site) | {"signing_secret": secret}

    def config(self, site: str) -> dict[str, Any]:
        """A society's integration, never its credential."""
        row = store.site_partner(self.db.conn, site)
        if row is None:
            raise CloudError(404, Refusal.NO_PARTNER, f"{site} is integrated with no partner app")
        return {"site": site, "partner": row["partner"], "mode": row["mode"],
                "endpoint": row["endpoint"], "has_credential": bool(row["credential"]),
                "updated_at": row["updated_at"]}

    def remove(self, site: str) -> dict[str, Any]:
        """End a society's integration (its queued events stay queued, unsent)."""
        with self.db.write() as c:
            if not store.delete_site_partner(c, site):
                raise CloudError(404, Refusal.NO_PARTNER,
                                 f"{site} is integrated with no partner app")
        return {"site": site, "partner": None}

    def site_view(self, site: str) -> dict[str, Any]:
        """Every resident vehicle's link at a society, for its admin, with the outbox's
        counts."""
        cfg = self.config(site)
        c = self.db.conn
        return cfg | {"links": [view(r, r["partner"]) | {
            "vrn": r["vrn"], "resident": r["resident"], "name": r["name"], "phone": r["phone"]}
            for r in store.site_links(c, site)], "outbox": store.outbox_counts(c, site)}

    # Residents --------------------------------------------------------------------------------
    def after_activation(self, resident: str, site: str, vrn: str) -> dict[str, Any] | None:
        """Connect (opt-out) or offer (opt-in) after a tag was activated; None when the society
        has no partner."""
        with self.db.read() as c:
            p = store.site_partner(c, site)
            link = store.live_link(c, site, vrn)  # one of a resident who left is none
        if p is None:
            return None
        if link is not None and (link["opted_in"] == 0 or link["state"] == "connected"):
            return view(link, p["partner"])  # opted out stays out; connected stays
        if p["mode"] == "opt_out":
            return self._connect(resident, site, vrn, p, opted_in=None)
        with self.db.write() as c:
            self._write(c, site, vrn, resident, p["partner"], Connection("offered"), None)
            return view(store.link(c, site, vrn), p["partner"])

    def set_opt(self, resident: str, vrn: str, opted_in: bool) -> dict[str, Any]:
        """The resident opts in (connect, or try again) or out (nothing more is sent, queued
        events included)."""
        with self.db.read() as c:
            v = vehicle_of(c, resident, vrn)
            p = store.site_partner(c, v["site"])
        if p is None:
            raise CloudError(409, Refusal.NO_PARTNER, "your society is integrated with no partner "
                             "app")
        site, plate = v["site"], v["vrn"]
        if opted_in:
            return {"site": site, "vrn": plate} | self._connect(resident, site, plate, p, True)
        with self.db.write() as c:
            self._write(c, site, plate, resident, p["partner"], Connection("opted_out"), False)
            cancelled = store.cancel_vehicle(c, site, plate, self.clock.now().isoformat())
            out = view(store.link(c, site, plate), p["partner"])
        try:
            self.client.disconnect(_partner(p), site, plate)
        except PartnerError as exc:  # we send nothing more either way
            log.warning("%s did not take the opt-out of %s: %s", p["partner"], plate, exc)
        return {"site": site, "vrn": plate, "cancelled": cancelled} | out

    def mine(self, resident: str) -> list[dict[str, Any]]:
        """The resident's vehicles' links (for the vehicle page)."""
        c = self.db.conn
        out = []
        for v in residents.vehicles(c, resident):
            p = store.site_partner(c, v["site"])
            if p is not None:
                out.append({"site": v["site"], "vrn": v["vrn"]}
                           | view(store.live_link(c, v["site"], v["vrn"]), p["partner"]))
        return out

    def resident_left(self, resident: str) -> None:
        """A resident left (``Residents.on_removed``): each of their links is
        ``disconnected``, its queued events cancelled, and the partner told; a later owner
        of the car connects under their own name."""
        now = self.clock.now().isoformat()
        with self.db.write() as c:
            links = [r for r in store.links_of(c, resident) if r["state"] != "disconnected"]
            for r in links:
                store.set_link(c, (r["site"], r["vrn"], resident, r["partner"], "disconnected",
                                   "resident_left", None, None, now))
                store.cancel_vehicle(c, r["site"], r["vrn"], now)
        for r in links:
            if r["state"] != "connected" or r["endpoint"] is None:
                continue
            try:
                self.client.disconnect(_partner(r), r["site"], r["vrn"])
            except PartnerError as exc:  # nothing is sent under the link either way
                log.warning("%s did not take the disconnect of %s: %s", r["partner"],
                            r["vrn"], exc)

    def _connect(self, resident: str, site: str, vrn: str, p: Row,
                 opted_in: bool | None) -> dict[str, Any]:
        with self.db.read() as c:
            who = residents.get(c, resident)
        assert who is not None
        # A resident made from an owner name of before has no phone yet: the partner cannot
        # know them by it, which is what the resident is told.
        got = self.client.connect(_partner(p), site, who["phone"], vrn, who["name"]) \
            if who["phone"] else Connection("user_not_found", reason="different_phone")
        with self.db.write() as c:
            self._write(c, site, vrn, resident, p["partner"], got, opted_in)
            return view(store.link(c, site, vrn), p["partner"])

    def _write(self, c: Tx, site: str, vrn: str, resident: str, partner: str,
               got: Connection, opted_in: bool | None) -> None:
        old = store.live_link(c, site, vrn)  # a choice of a resident who left is not kept
        keep = old["opted_in"] if old is not None and opted_in is None else opted_in
        store.set_link(c, (site, vrn, resident, partner, got.state, got.reason,
                           None if keep is None else int(keep), got.user_id,
                           self.clock.now().isoformat()))
