"""This box's side of sharing single-use pass spends with the other boxes of its site.

Before a lane opens for a single-use pass it claims the pass here and at every peer box at
once (``peers.timeout_ms`` for all of them together): a peer that spent it, or holds another
box's claim on it, refuses it (``code_spent``), and so does a peer whose answer cannot be
trusted (not a 200, not signed by it under the site's secret, malformed, or for another call:
``unverified``), since it may hold the spend. Only a peer that gives no answer at all (cannot be
connected to, drops the call, or does not answer in time) is skipped and the box decides on
what it knows, so two boxes that cannot reach each other may each admit a pass once
(``docs/codes.md``). The open records the spend and queues it for every peer in one
transaction; a worker tells them until each acknowledges. The peers' calls arrive through the
local API (``edge.peers.routes``) and are answered here.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx
from pydantic import ValidationError

from edge.config import PeerConfig, PeersConfig
from edge.core.types import Decision
from edge.peers import wire
from edge.peers.claims import Answer, Claims
from edge.store import peer_spends as store
from edge.store.db import EdgeDB
from shared.counters import Counters
from shared.vocab import REASON_OUTCOMES, Reason

log = logging.getLogger(__name__)

RETRY_S = 2.0  # how often unacknowledged spends are offered again
PUSH_TIMEOUT_S = 5.0
BATCH = 500
_RANK = {"free": 0, "unverified": 1, "taken": 2, "spent": 3}
_HINTS = {401: " (is its peers.secret the same, and does it list this box in peers.boxes?)",
          403: " (it does not serve this site)",
          413: " (another version?)", 422: " (another version?)"}


class _Unverified(Exception):
    """A peer answered, but not with an answer this box can trust (the text says how)."""


class SpendPeers:
    """Claims and spends of single-use passes, shared with the boxes in ``peers.boxes``."""

    def __init__(self, own: str, config: PeersConfig, sites: list[str], db: EdgeDB,
                 counters: Counters) -> None:
        self.own, self.config, self.sites, self.db = own, config, set(sites), db
        self.counters = counters
        self.timeout_s = config.timeout_ms / 1000
        self.claims = Claims(own, lambda digest: store.spent(self.db.conn, digest),
                             ttl_s=max(10.0, 4 * self.timeout_s))
        self.peers: dict[str, PeerConfig] = {b.id: b for b in config.boxes}
        self.state: dict[str, str | None] = dict.fromkeys(self.peers)  # ok, unreachable…
        self._state_lock = threading.Lock()
        self._clients: dict[str, httpx.Client] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # Life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect to the peers and start telling them of spends still unacknowledged."""
        if not self.peers:
            return
        self._clients = {p.id: httpx.Client(base_url=p.url.rstrip("/"), timeout=self.timeout_s)
                         for p in self.peers.values()}
        self._pool = ThreadPoolExecutor(max(4, 2 * len(self.peers)), "peer-claim")
        with self.db.write() as c:
            store.forget_others(c, list(self.peers))
        self._thread = threading.Thread(target=self._run, name="peer-spends", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        """Whether the spends worker runs (or is not needed)."""
        return self._thread is None or self._thread.is_alive()

    def stop(self) -> None:
        """Stop the worker, then close the connections."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(PUSH_TIMEOUT_S + 1)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        for client in self._clients.values():
            client.close()

    # A lane opening for a single-use pass ----------------------------------------------------
    def claim(self, site: str, decision: Decision, code_extra: dict[str, Any]) -> Decision:
        """*decision* (an open for a single-use pass of *site*) if no other lane or reachable
        peer spent the pass or is spending it now, and every peer that answered answered
        validly; else the same decision refused ``code_spent``, with the box that holds it (or
        whose answer was not valid) and its status in *code_extra*'s ``peer``."""
        digest = decision.credential.value
        token = secrets.token_hex(8)
        got = self.claims.take(digest, self.own, token)
        if got.verdict == "free":
            got = self._ask(site, digest, token)
        if got.verdict == "free":
            got = self.claims.win(digest, token)
        if got.verdict == "free":
            return decision
        self.claims.drop(digest, token)
        self.counters.inc("peer_claims_refused")
        if got.verdict == "spent" and got.by != self.own:
            with self.db.write() as c:
                store.learn(c, digest, decision.at)
        by = got.by or "?"
        code_extra["peer"] = {"box": by, "status": got.verdict}
        where = "at another gate of this box" if by == self.own else f"at box {by}"
        what = {"spent": f"used already {where}", "taken": f"being used now {where}",
                "unverified": f"box {by} gave no valid answer: it may have been used there"}
        return replace(decision, outcome=REASON_OUTCOMES[Reason.CODE_SPENT],
                       reason=Reason.CODE_SPENT,
                       detail=f"{decision.detail}: {what[got.verdict]}".lstrip(": "))

    def spent(self, c: Any, site: str, digest: str, at: datetime) -> None:
        """Queue a spend for every peer, in the transaction that records the open."""
        if self.peers:
            store.queue(c, list(self.peers), site, digest, at)
            self._wake.set()  # the worker reads after this transaction commits

    def _ask(self, site: str, digest: str, token: str) -> Answer:
        """Every peer at once, within the timeout: the strongest refusal, or free."""
        if not self.peers or self._pool is None:
            return Answer("free")
        futures = {self._pool.submit(self._claim_at, peer, site, digest, token): peer
                   for peer in self.peers}
        best = Answer("free")
        pending = set(futures)
        deadline = time.monotonic() + self.timeout_s + 0.05
        while pending:
            done, pending = wait(pending, timeout=max(0.0, deadline - time.monotonic()),
                                 return_when=FIRST_COMPLETED)
            if not done:
                break
            for f in done:
                try:
                    got = f.result()
                except Exception:  # _claim_at answers every failure; refuse if one slips by
                    log.exception("claim at peer %s failed", futures[f])
                    got = Answer("unverified", futures[f])
                if got is not None and _RANK[got.verdict] > _RANK[best.verdict]:
                    best = got
            if best.verdict == "spent":
                break
        for f in pending:
            f.cancel()
            self.counters.inc("peer_claims_unanswered")
        return best

    def _claim_at(self, peer: str, site: str, digest: str, token: str) -> Answer | None:
        """One peer's answer to a claim: None when it gave none (out of reach: skipped),
        ``unverified`` when it answered with anything but a valid signed answer to this call.
        Never raises: it runs for a lane waiting to open."""
        nonce = secrets.token_hex(8)
        try:
            body = wire.ClaimRequest(site=site, hash=digest, token=token,
                                     nonce=nonce).model_dump_json().encode()
            r = self._clients[peer].post(wire.CLAIM_PATH, content=body,
                                         headers=self._signed(wire.CLAIM_PATH, body))
        except (httpx.TransportError, OSError) as exc:  # no answer: nothing to distrust
            self._reached(peer, "unreachable", str(exc) or type(exc).__name__)
            return None
        except Exception as exc:
            why = f"the claim failed ({type(exc).__name__}: {exc})"
        else:
            try:
                answer = self._read(peer, wire.CLAIM_PATH, r, wire.ClaimAnswer, nonce)
                self._reached(peer, "ok")
                return Answer(answer.status, answer.by or peer)
            except _Unverified as exc:
                why = str(exc)
            except Exception as exc:
                why = f"its answer could not be read ({type(exc).__name__}: {exc})"
        self.counters.inc("peer_claims_unverified")
        self._reached(peer, "unverified", why)
        return Answer("unverified", peer)

    # Telling peers of spends -----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(RETRY_S)
            self._wake.clear()
            for peer in self.peers:
                if self._stop.is_set():
                    return
                try:
                    while self._push(peer):
                        pass
                except Exception:  # keep the worker: the next round offers them again
                    self.counters.inc("peer_push_errors")
                    log.exception("telling peer %s of spends failed", peer)

    def _push(self, peer: str) -> bool:
        """Offer *peer* the spends it has not acknowledged; True when a full batch went."""
        with self.db.write() as c:  # behind any open still writing its spend
            rows = store.waiting(c, peer, BATCH)
        if not rows:
            return False
        nonce = secrets.token_hex(8)
        body = wire.SpendRequest(spends=[wire.Spend(site=s, hash=h, at=at) for s, h, at in rows],
                                 nonce=nonce).model_dump_json().encode()
        try:
            r = self._clients[peer].post(wire.SPEND_PATH, content=body, timeout=PUSH_TIMEOUT_S,
                                         headers=self._signed(wire.SPEND_PATH, body))
        except (httpx.TransportError, OSError) as exc:
            self._reached(peer, "unreachable", str(exc) or type(exc).__name__)
            return False
        try:
            self._read(peer, wire.SPEND_PATH, r, wire.SpendAnswer, nonce)
        except _Unverified as exc:  # not acknowledged: offered again next round
            self._reached(peer, "unverified", str(exc))
            return False
        self._reached(peer, "ok")
        with self.db.write() as c:
            store.acked(c, peer, [h for _, h, _ in rows])
        self.counters.inc("peer_spends_sent", len(rows))
        return len(rows) == BATCH

    # Calls from peers ------------------------------------------------------------------------
    def authentic(self, box: str, path: str, body: bytes, signature: str) -> bool:
        """Whether a call comes from a configured peer, signed with the site's secret."""
        ok = box in self.peers and bool(self.config.secret) and \
            wire.verify(self.config.secret or "", box, path, body, signature)
        if not ok:
            self.counters.inc("peer_unauthorised")
        return ok

    def on_claim(self, box: str, req: wire.ClaimRequest) -> wire.ClaimAnswer | None:
        """A peer claims a pass of one of this box's sites (None: not one of them)."""
        if req.site not in self.sites:
            return None
        got = self.claims.take(req.hash, box, req.token)
        self.counters.inc(f"peer_claims_answered_{got.verdict}")
        return wire.ClaimAnswer(nonce=req.nonce, status=got.verdict, by=got.by)

    def on_spend(self, box: str, req: wire.SpendRequest) -> wire.SpendAnswer:
        """A peer tells of passes it let in: each becomes spent here (another site's are
        acknowledged and ignored)."""
        new = 0
        with self.db.write() as c:
            for s in req.spends:
                if s.site in self.sites:
                    new += store.learn(c, s.hash, datetime.fromisoformat(s.at))
        self.counters.inc("peer_spends_learned", new)
        log.info("peer %s told of %d spends, %d new", box, len(req.spends), new)
        return wire.SpendAnswer(nonce=req.nonce, recorded=new)

    def signed(self, path: str, body: bytes) -> dict[str, str]:
        """Headers that sign *body* as this box's, on *path* (requests and answers)."""
        return self._signed(path, body)

    # Helpers ---------------------------------------------------------------------------------
    def _signed(self, path: str, body: bytes) -> dict[str, str]:
        return {"Content-Type": "application/json", wire.BOX: self.own,
                wire.SIGNATURE: wire.sign(self.config.secret or "", self.own, path, body)}

    def _read(self, peer: str, path: str, r: httpx.Response, model: Any, nonce: str) -> Any:
        """The answer's body as *model* if the peer signed it and it answers the call of
        *nonce*; raises ``_Unverified`` otherwise."""
        try:
            if r.status_code != 200:
                raise _Unverified(f"answered {r.status_code}{_HINTS.get(r.status_code, '')}")
            if r.headers.get(wire.BOX) != peer or not wire.verify(
                    self.config.secret or "", peer, path, r.content,
                    r.headers.get(wire.SIGNATURE, "")):
                raise _Unverified("answered without its valid signature (is its peers.secret "
                                  "the same?)")
            try:
                answer = model.model_validate_json(r.content)
            except ValidationError as exc:
                raise _Unverified(f"answered a malformed body ({exc.error_count()} errors; "
                                  "another version?)") from exc
            if answer.nonce != nonce:
                raise _Unverified("answered another call (its nonce differs)")
            return answer
        except _Unverified:
            self.counters.inc("peer_answers_refused")
            raise

    def _reached(self, peer: str, state: str, why: str = "") -> None:
        """Note how *peer* answered (ok, unreachable, unverified); log on transitions only."""
        if state == "unreachable":
            self.counters.inc("peer_unreachable")
        with self._state_lock:
            was = self.state.get(peer)
            self.state[peer] = state
        if was == state:
            return
        if state == "ok":
            log.info("peer %s answers%s", peer, "" if was is None else " again")
        elif state == "unreachable":
            log.warning("peer %s unreachable: %s; skipped while it gives no answer", peer, why)
        else:
            log.error("peer %s %s: single-use passes are refused until it answers validly",
                      peer, why)

    def health(self) -> dict[str, Any]:
        """Each peer: how it answered the last call (``state``: ok, unreachable, unverified;
        None: not called yet), whether it answered at all (``reachable``), spends waiting."""
        with self.db.read() as c:
            waiting = store.counts(c)
        out = {}
        for p in self.peers:
            state = self.state.get(p)
            out[p] = {"reachable": None if state is None else state != "unreachable",
                      "state": state, "waiting": waiting.get(p, 0)}
        return out
