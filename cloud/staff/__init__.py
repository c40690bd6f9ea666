"""Who may call the cloud's API: staff with roles, residents, API keys, and the audit log.

Every request but a few public ones (health, the payment provider's signed callback, the API
docs) carries an API key (``Authorization: Bearer KEY`` or
``X-Api-Key: KEY``). Keys are random and stored only as SHA-256 digests. Each write is checked
against the caller's role and recorded in the audit log, refused or not; so is every refused
read.

Roles (seed 002): ``view_parkings`` (read; every role may read), ``edit_parkings``
(parkings, spaces, tariffs, subscriptions, debts, presence), ``manage_devices`` (gates,
barriers, opening them); ``admin`` has every role and manages sites, vehicles, tags,
accounts and staff. A ``resident`` key acts only for its own subscriptions (its ``owner``
name); an edge box's key only reads the rules of its own sites; a partner's key only reads the
partner API (``/api/v1/partner/…``) of the societies integrated with that partner (and, if the key
names some, only of those).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware

from cloud.errors import CloudError
from cloud.refusals import Refusal
from cloud.storage import Database
from cloud.storage import partners as partners_store
from cloud.storage import residents as residents_store
from cloud.storage import staff as store
from shared.clock import Clock

ROLES = ("view_parkings", "edit_parkings", "manage_devices", "admin")
PUBLIC = [("GET", re.compile(r"^/api/v1/health$")),
          ("POST", re.compile(r"^/api/v1/payments/callback$")),
          ("GET", re.compile(r"^/(docs|redoc|openapi\.json)"))]
# A site's full rules hold the gates' command keys and the panel's password hashes: only the
# site's own edge boxes and staff who manage devices may read them.
RULES = re.compile(r"^/api/v1/sites/(?P<site>[^/]+)/rules$")
# Reports that hold access codes in clear (for the bureau that prints them): admins only.
ADMIN_READS = re.compile(r"^/api/v1/reports/codes")
# A box asks a flat about a walk-in visitor at its gate, and reads the answer.
VISITORS = re.compile(r"^/api/v1/sites/(?P<site>[^/]+)/visitor-requests(/[^/]+)?$")
SEQUENCES = re.compile(r"^/api/v1/edges/(?P<edge>[^/]+)/sequences$")
PARTNER_API = re.compile(r"^/api/v1/partner/sites(/(?P<site>[^/]+)/(vehicles|tags|events))?$")
# First match wins: (methods, path pattern, role a write needs)
WRITE_ROLES = [
    (re.compile(r"^/api/v1/(sites/[^/]+/gates|parkings/[^/]+/cameras|cameras)"),
     "manage_devices"),
    (re.compile(r"^/api/v1/(sites/[^/]+/parkings|parkings|subscriptions|tariffs|jobs)"),
     "edit_parkings"),
    (re.compile(r"^/api/v1/"), "admin"),
]
RESIDENT_READS = [re.compile(r"^/api/v1/me(/|$)"),  # what the key's resident is and has
                  re.compile(r"^/api/v1/subscriptions/"),  # own ones: checked by the handler
                  re.compile(r"^/api/v1/parkings/[^/]+(/spaces|/tariffs)?$")]
RESIDENT_WRITES = [re.compile(r"^/api/v1/me/"),
                   re.compile(r"^/api/v1/parkings/[^/]+/subscriptions/resident$"),
                   re.compile(r"^/api/v1/subscriptions/[^/]+/users$"),  # owner: by handler
                   re.compile(r"^/api/v1/subscriptions/[^/]+/extend/resident$"),
                   re.compile(r"^/api/v1/subscriptions/[^/]+/vehicles(/[^/]+)?$"),
                   re.compile(r"^/api/v1/sites/[^/]+/gates/[^/]+/open$")]


@dataclass(frozen=True)
class Principal:
    """The caller behind a key."""

    id: int
    name: str
    roles: tuple[str, ...]
    resident: str | None = None  # the owner name a resident key acts for
    edge_sites: tuple[str, ...] | None = None  # an edge box's key: the sites it serves
    partner: str | None = None  # a partner app's key
    partner_sites: tuple[str, ...] = ()  # the societies it may read now

    def has(self, role: str) -> bool:
        """Whether the caller holds *role*: admin holds them all, and every staff role may
        view."""
        if self.resident is not None or self.edge_sites is not None or self.partner \
                or not self.roles:
            return False
        return role in self.roles or "admin" in self.roles or role == "view_parkings"


def resident_of(request: Request) -> str | None:
    """The owner name a request's resident key acts for (None: staff, or no key needed)."""
    who = getattr(request.state, "principal", None)
    return who.resident if who is not None and who.resident else None


def digest(key: str) -> str:
    """What is stored of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


class Staff:
    """Staff members, residents' keys, and the audit log."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def add(self, name: str, roles: list[str], resident: str | None = None,
            key: str | None = None, edge_sites: list[str] | None = None,
            partner: str | None = None, partner_sites: list[str] | None = None
            ) -> dict[str, Any]:
        """A staff member (or a resident with *resident* set, an edge box with the sites it
        serves, or a partner app) and a new API key, shown once."""
        bad = [r for r in roles if r not in ROLES]
        if bad or (not roles and resident is None and not edge_sites and not partner):
            raise CloudError(422, Refusal.BAD_ROLES, f"roles are {', '.join(ROLES)}")
        key = key or f"gpk_{secrets.token_urlsafe(24)}"
        now = self.clock.now().isoformat()
        with self.db.write() as c:
            if resident is not None:  # an owner name of before residents: its resident
                resident = residents_store.ensure_legacy(c, resident, now)
            sid = store.insert_member(c, name, json.dumps(roles), resident,
                                      json.dumps(edge_sites) if edge_sites else None, now,
                                      partner, json.dumps(partner_sites)
                                      if partner_sites else None)
            store.insert_key(c, digest(key), sid, now)
        return {"id": sid, "name": name, "roles": roles, "resident": resident,
                "key": key}

    def add_edge(self, edge: str, sites: list[str]) -> dict[str, Any]:
        """An edge box's key (shown once): it reads the rules of *sites* and nothing else."""
        got = self.add(f"edge:{edge}", [], edge_sites=sites)
        return {"id": got["id"], "edge": edge, "sites": sites, "key": got["key"]}

    def add_partner(self, partner: str, sites: list[str] | None) -> dict[str, Any]:
        """A partner app's key (shown once): it reads the partner API of the societies
        integrated with *partner* (only *sites* of them, when given)."""
        got = self.add(f"partner:{partner}", [], partner=partner, partner_sites=sites)
        return {"id": got["id"], "partner": partner, "sites": sites, "key": got["key"]}

    def ensure(self, name: str, key: str) -> None:
        """An admin with exactly this key (bootstrap from the environment), once."""
        if self.resolve(key) is None:
            self.add(name, ["admin"], key=key)

    def revoke(self, staff_id: int) -> None:
        """Revoke every key of a staff member."""
        with self.db.write() as c:
            store.revoke_keys(c, staff_id, self.clock.now().isoformat())

    def named(self, name: str) -> bool:
        """Whether a staff member (or box: ``edge:ID``) of this name has been added."""
        return store.named(self.db.conn, name)

    def members(self) -> list[dict[str, Any]]:
        """Staff and residents with roles (never keys)."""
        return [{"id": r["id"], "name": r["name"], "roles": json.loads(r["roles"]),
                 "resident": r["resident"],
                 "edge_sites": json.loads(r["edge_sites"]) if r["edge_sites"] else None}
                for r in store.members(self.db.conn)]

    def resolve(self, key: str | None) -> Principal | None:
        """The caller of a key, or None for a missing, unknown or revoked key."""
        if not key:
            return None
        c = self.db.conn
        r = store.member_of_key(c, digest(key))
        if r is None:
            return None
        scope: tuple[str, ...] = ()
        if r["partner"]:
            only = set(json.loads(r["partner_sites"])) if r["partner_sites"] else None
            scope = tuple(s for s in partners_store.sites_of_partner(c, r["partner"])
                          if only is None or s in only)
        return Principal(r["id"], r["name"], tuple(json.loads(r["roles"])), r["resident"],
                         tuple(json.loads(r["edge_sites"])) if r["edge_sites"] else None,
                         r["partner"], scope)

    def audit(self, who: Principal | None, method: str, path: str, status: int,
              note: str = "") -> None:
        """One line of the audit log."""
        with self.db.write() as c:
            store.write_audit(c, self.clock.now().isoformat(), who.id if who else None,
                              who.name if who else None, method, path, status, note)

    def audit_log(self, limit: int = 500) -> list[dict[str, Any]]:
        """The newest audit lines."""
        return [dict(r) for r in store.audit_log(self.db.conn, limit)]


def _key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def needed_role(method: str, path: str) -> str | None:
    """The role a request needs (None: public); reads need view_parkings."""
    if any(method == m and p.match(path) for m, p in PUBLIC):
        return None
    if method in ("GET", "HEAD", "OPTIONS"):
        if ADMIN_READS.match(path):
            return "admin"
        return "manage_devices" if RULES.match(path) else "view_parkings"
    return next(role for pattern, role in WRITE_ROLES if pattern.match(path))


def allowed(who: Principal, role: str, method: str, path: str) -> bool:
    """Whether *who* may make this request: by role (staff), by the sites it serves (an edge
    box reads their rules and asks their flats about walk-in visitors), or as a resident
    acting for itself (handlers check ownership)."""
    if who.has(role):
        return True
    if who.partner is not None:  # a partner: its societies' partner API, reads only
        api = PARTNER_API.match(path)
        return method == "GET" and api is not None and \
            (api["site"] is None or api["site"] in who.partner_sites)
    if who.edge_sites is not None:  # a box: its sites' rules, and its own event numbers
        if (asks := VISITORS.match(path)) is not None:  # the gate is checked by the handler
            return asks["site"] in who.edge_sites and method in ("GET", "POST")
        if method != "GET":
            return False
        if (rules := RULES.match(path)) is not None:
            return rules["site"] in who.edge_sites
        seqs = SEQUENCES.match(path)
        return seqs is not None and who.name == f"edge:{seqs['edge']}"
    if who.resident is not None:
        if method in ("GET", "HEAD", "OPTIONS"):
            return any(p.match(path) for p in RESIDENT_READS)
        return any(p.match(path) for p in RESIDENT_WRITES)
    return False


class AuditBudget:
    """How many refused requests without a valid key one client address may write to the
    audit log a minute (a flood of them is counted, not written line by line)."""

    def __init__(self, per_minute: int = 60) -> None:
        self.per_minute = per_minute
        self.suppressed = 0
        self._used: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def take(self, addr: str) -> bool:
        """Whether this refusal from *addr* is written (a window opens at its first one)."""
        now = time.monotonic()
        with self._lock:
            if len(self._used) > 10_000:
                self._used.clear()
            start, n = self._used.get(addr, (now, 0))
            if now - start >= 60:
                start, n = now, 0
            self._used[addr] = (start, n + 1)
            if n + 1 > self.per_minute:
                self.suppressed += 1
                return False
            return True


def auth_middleware(staff: Staff, budget: AuditBudget | None = None) -> Middleware:
    """The app's middleware that checks every request's key and role, and audits every write
    and every refusal (refusals without a valid key up to *budget*)."""
    refusals = budget or AuditBudget()

    async def auth(request: Request, call_next: Any) -> Response:
        method, path = request.method, request.url.path
        role = needed_role(method, path)
        if role is None:
            return await call_next(request)
        key = _key(request)
        who = staff.resolve(key)
        write = method not in ("GET", "HEAD", "OPTIONS")
        if who is None:
            addr = request.client.host if request.client else "?"
            if refusals.take(addr):  # every refusal, up to a budget per address and minute
                staff.audit(None, method, path, 401,
                            f"{'an unknown or revoked' if key else 'no'} API key from {addr}")
            return JSONResponse(status_code=401, content={"detail": {
                "reason": "unauthenticated", "message": "an API key is required"}})
        if not allowed(who, role, method, path):
            staff.audit(who, method, path, 403, f"needs {role}")
            return JSONResponse(status_code=403, content={"detail": {
                "reason": "forbidden", "message": f"this key lacks the {role} role"}})
        request.state.principal = who
        response: Response = await call_next(request)
        if write or response.status_code in (401, 403):
            staff.audit(who, method, path, response.status_code)
        return response

    return Middleware(BaseHTTPMiddleware, dispatch=auth)
