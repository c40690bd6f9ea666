"""Two boxes of one society share single-use pass spends over the site's network (issue 25:
"a single-use pass shown at two boxes of one society while both are offline opened at both").

The real stack: a broker, the cloud, and two edge daemons (processes) of one site, each with a
gate and its OSDP keypad; a resident issues passes in the app, both boxes take them in their
rules, then the cloud goes out of reach. Each box reaches the other's local API through a proxy
standing for the site's network, so the test can cut it. The claim rules themselves are a pure
table at the end."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from edge.config import PeerConfig, PeersConfig
from edge.core.types import Credential, Decision
from edge.peers import wire
from edge.peers.claims import Answer, Claim, Claims, judge
from edge.peers.exchange import SpendPeers
from edge.peers.routes import mount_peers
from edge.store.db import EdgeDB
from gatepost.devstack.broker import free_port
from gatepost.devstack.stack import GateSpec, Stack, StackOptions, wait_until
from hardware_sim.linkproxy import LinkProxy
from shared.clock import FileClock
from shared.counters import Counters
from shared.vocab import CredentialKind, Outcome, Reason
from shared.webthread import WebThread

SITE = "green-acres"
SECRET = secrets.token_hex(32)


def peers_toml(peer: str, port: int, timeout_ms: int = 3000) -> str:
    """A box's [peers] section naming the other box. The claim timeout is generous here: two
    cores shared by many processes must not turn a slow answer into a skipped peer."""
    return (f'\n[peers]\nsecret = "{SECRET}"\ntimeout_ms = {timeout_ms}\n'
            f'[[peers.boxes]]\nid = "{peer}"\nurl = "http://127.0.0.1:{port}"\n')


@dataclass
class Site:
    """The stack, the two boxes' APIs, the network between them, and the passes issued."""

    stack: Stack
    boxes: dict[str, httpx.Client]  # edge-1 (gate a-in), edge-2 (gate b-in)
    to: dict[str, LinkProxy]  # the site's network towards each box
    passes: list[dict[str, Any]]

    def pad(self, box: str) -> Any:
        gate = "a-in" if box == "edge-1" else "b-in"
        return self.stack.world.gates[gate].keypad

    def later(self) -> None:
        """Six minutes on: a keypad counts each refused code as a guess, and this test refuses
        more passes at one keypad than it allows within its window."""
        FileClock.advance(self.stack.clock_file, timedelta(minutes=6))

    def network(self, up: bool) -> None:
        for proxy in self.to.values():
            proxy.up() if up else proxy.down()


def setup_cloud(stack: Stack, n_passes: int) -> tuple[list[dict[str, Any]], int]:
    """The site, its gates and codes, a resident and her single-use passes; the version."""
    c = stack.cloud
    c.post("/api/v1/sites", json={"id": SITE, "timezone": "Asia/Kolkata"}).raise_for_status()
    for gate in ("a-in", "b-in"):
        c.post(f"/api/v1/sites/{SITE}/gates",
               json={"id": gate, "direction": "entry"}).raise_for_status()
    c.put(f"/api/v1/sites/{SITE}/codes/settings",
          json={"alphabet": "digits", "length": 8}).raise_for_status()
    who = c.post("/api/v1/residents", json={
        "phone": "98765 43210", "name": "Asha Rao", "flats": [{"site": SITE, "flat": "B-402"}]})
    who.raise_for_status()
    key = c.post(f"/api/v1/residents/{who.json()['id']}/keys").json()["key"]
    now = FileClock(stack.clock_file).now()
    passes = []
    with httpx.Client(base_url=str(c.base_url), timeout=30, headers={"X-Api-Key": key}) as app:
        for i in range(n_passes):
            r = app.post("/api/v1/me/passes", json={
                "kind": "delivery", "name": f"rider {i}", "single_use": True,
                "valid_from": now.isoformat(),
                "valid_until": (now + timedelta(hours=4)).isoformat()})
            assert r.status_code == 201, r.text
            passes.append(r.json())
    return passes, max(int(p["rules_version"]) for p in passes)


@pytest.fixture
def site(make_stack):
    """Two boxes of the site, each reaching the other through a link proxy (the second box
    started by the stack: ``start_box``), both holding the passes; then the cloud cut off."""
    stack = make_stack([GateSpec("a-in", SITE, "entry", keypad=True),
                        GateSpec("b-in", SITE, "entry", keypad=True, box="edge-2")],
                       StackOptions(edge_api_port=free_port(), other_edges={"edge-2": (SITE,)}),
                       start=False)  # the first box's peer link is set up before it starts
    b_port = free_port()
    to = {"edge-1": LinkProxy("127.0.0.1", stack.edge_port),
          "edge-2": LinkProxy("127.0.0.1", b_port)}
    for proxy in to.values():
        proxy.start()
    stack.opt.edge_toml = peers_toml("edge-2", to["edge-2"].port)
    try:
        stack.start()
        b = stack.start_box("edge-2", b_port, peers_toml("edge-1", to["edge-1"].port))
        boxes = {"edge-1": stack.edge, "edge-2": b}
        passes, version = setup_cloud(stack, 6)
        for box in boxes.values():
            wait_until(lambda box=box: box.get("/api/health").json()["rules"].get(SITE, 0)
                       >= version, 20, what="both boxes holding the passes")
        # The cloud goes out of reach: from here on the boxes decide on their own.
        stack.mqtt_link.down()
        stack.http_link.down()
        for box in boxes.values():
            wait_until(lambda box=box: not box.get("/api/health").json()["cloud_connected"],
                       20, what="both boxes offline")
        s = Site(stack, boxes, to, passes)
        for name in boxes:
            wait_until(lambda name=name: s.pad(name).online, 20, what=f"the keypad of {name}")
        yield s
        b.close()
    finally:
        make_stack.stop(stack)  # before the proxies it links through
        for proxy in to.values():
            proxy.stop()


def typed(s: Site, box: str, code: str) -> dict[str, Any]:
    """Type *code* and # on *box*'s keypad; the decision the box recorded on it."""
    api = s.boxes[box]
    after = api.get("/api/health").json()["last_event_id"]
    s.pad(box).type(code)
    return decision_after(api, after)


def decision_after(api: httpx.Client, after: int) -> dict[str, Any]:
    """The first decision on a code the box recorded after local event *after*."""
    found: list[dict[str, Any]] = []

    def seen() -> bool:
        r = api.get("/api/events", params={"after": after, "wait": 1, "type": "decision"})
        found.extend(e for e in r.json()["events"] if e["credential"]["kind"] == "code")
        return bool(found)

    wait_until(seen, 20, what="the box's decision on the code")
    return found[0]


@pytest.mark.stack
@pytest.mark.timeout(300)
def test_a_pass_used_at_one_box_is_spent_at_the_other(site: Site) -> None:
    """Serial, then at once, then across a cut network; and a spend told of later."""
    s = site
    one, *at_once, cut, later = [p["code"] for p in s.passes]

    # Shown at box A, then at box B: B asks A, which spent it.
    first = typed(s, "edge-1", one)
    again = typed(s, "edge-2", one)
    assert (first["outcome"], first["reason"]) == ("open", "code_valid")
    assert (again["outcome"], again["reason"]) == ("deny", "code_spent")
    # B knows from A: A's spend told to B, A's claim still standing at B while the spend is on
    # its way, or A's answer to B's claim; whichever came first.
    assert again["code"].get("peer", {"box": "edge-1"})["box"] == "edge-1", again
    assert typed(s, "edge-2", one)["reason"] == "code_spent"  # now without asking: B knows it
    s.later()

    # Shown at both boxes at the same moment: one opens, the other refuses.
    for code in at_once:
        afters = {b: api.get("/api/health").json()["last_event_id"]
                  for b, api in s.boxes.items()}
        go = threading.Barrier(2)

        def show(box: str, code: str = code, go: threading.Barrier = go) -> None:
            go.wait(5)
            s.pad(box).type(code)

        threads = [threading.Thread(target=show, args=(b,)) for b in s.boxes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        got = sorted((decision_after(api, afters[b])["reason"], b) for b, api in s.boxes.items())
        assert [r for r, _ in got] == ["code_spent", "code_valid"], got
    s.later()

    # The boxes cannot reach each other: each decides alone and admits the pass once, as
    # docs/codes.md says; a second showing at either is refused by its own spend.
    s.network(False)
    cut_at_a = typed(s, "edge-1", cut)
    assert cut_at_a["reason"] == "code_valid"
    assert typed(s, "edge-2", cut)["reason"] == "code_valid"
    assert typed(s, "edge-2", cut)["reason"] == "code_spent"

    # A spend made while the network is cut is told to the peer once it is back (the box keeps
    # offering it until acknowledged), so B refuses it even when the network fails again.
    assert typed(s, "edge-1", later)["reason"] == "code_valid"
    assert s.boxes["edge-1"].get("/api/health").json()["peers"]["edge-2"]["waiting"] >= 2
    s.network(True)
    wait_until(lambda: s.boxes["edge-1"].get("/api/health").json()["peers"]["edge-2"]
               ["waiting"] == 0, 20, what="box A's spends acknowledged by box B")
    s.network(False)
    refused = typed(s, "edge-2", later)
    assert refused["reason"] == "code_spent" and "peer" not in refused["code"]

    # The cloud back: it records every open, both of the pass admitted twice included.
    s.stack.mqtt_link.up()
    s.stack.http_link.up()

    def opens_of(digest: str) -> list[str]:
        events = s.stack.cloud.get("/api/v1/events", params={
            "site": SITE, "type": "decision"}).json()["events"]
        return sorted(e["gate"] for e in events if e["data"].get("outcome") == "open"
                      and (e["data"].get("credential") or {}).get("value") == digest)

    wait_until(lambda: opens_of(cut_at_a["credential"]["value"]) == ["a-in", "b-in"], 30,
               what="the cloud holding both opens of the pass admitted twice")
    assert opens_of(first["credential"]["value"]) == ["a-in"]


@pytest.mark.stack
@pytest.mark.timeout(300)
def test_a_spend_without_the_site_secret_is_refused(site: Site) -> None:
    """Anyone on the site's network could otherwise mark a visitor's pass spent, or claim it:
    a call not signed by a configured peer is refused before it is read."""
    s = site
    forged, told = s.passes[0]["code"], s.passes[1]["code"]
    b = s.boxes["edge-2"]
    s.network(False)  # box A spends both passes alone; their hashes are in its events
    digests = [typed(s, "edge-1", code)["credential"]["value"] for code in (forged, told)]

    def call(path: str, digest: str) -> tuple[bytes, str]:
        nonce = secrets.token_hex(8)
        if path == wire.SPEND_PATH:
            spend = wire.Spend(site=SITE, hash=digest, at="2026-12-07T08:00:00+05:30")
            return wire.SpendRequest(spends=[spend],
                                     nonce=nonce).model_dump_json().encode(), nonce
        return wire.ClaimRequest(site=SITE, hash=digest, token=secrets.token_hex(8),
                                 nonce=nonce).model_dump_json().encode(), nonce

    for path in (wire.SPEND_PATH, wire.CLAIM_PATH):
        body, _ = call(path, digests[0])
        for headers in ({}, {wire.BOX: "edge-1", wire.SIGNATURE: "00" * 32},
                        {wire.BOX: "edge-9", wire.SIGNATURE: wire.sign(SECRET, "edge-9", path,
                                                                       body)},
                        {wire.BOX: "edge-1", wire.SIGNATURE: wire.sign("x" * 64, "edge-1", path,
                                                                       body)},
                        {wire.BOX: "edge-1", wire.SIGNATURE: wire.sign(
                            SECRET, "edge-1", wire.CLAIM_PATH if path == wire.SPEND_PATH
                            else wire.SPEND_PATH, body)}):
            r = b.post(path, content=body, headers=headers)
            assert r.status_code == 401, (path, headers, r.text)
    assert b.get("/api/health").json()["counters"]["peer_unauthorised"] == 10
    # The same call signed with the site's secret is taken, and answered signed by box B.
    body, nonce = call(wire.SPEND_PATH, digests[1])
    r = b.post(wire.SPEND_PATH, content=body, headers={
        wire.BOX: "edge-1", wire.SIGNATURE: wire.sign(SECRET, "edge-1", wire.SPEND_PATH, body)})
    assert r.status_code == 200 and r.json() == {"nonce": nonce, "recorded": 1}
    assert wire.verify(SECRET, "edge-2", wire.SPEND_PATH, r.content, r.headers[wire.SIGNATURE])
    # The forged spend and claim changed nothing at B (the network still cut, B decides
    # alone); the signed one did.
    assert typed(s, "edge-2", forged)["reason"] == "code_valid"
    assert typed(s, "edge-2", told)["reason"] == "code_spent"


@pytest.mark.parametrize(("row", "box", "own", "verdict"), [
    (None, "edge-2", "edge-1", "free"),                                   # nobody holds it
    (Claim("edge-2", "t1", 0.0), "edge-2", "edge-1", "free"),             # the same attempt
    (Claim("edge-2", "t0", 0.0), "edge-2", "edge-1", "free"),             # its next attempt
    (Claim("edge-1", "t0", 0.0, held=True), "edge-0", "edge-1", "taken"),  # won: final
    (Claim("edge-1", "t0", 0.0), "edge-1", "edge-1", "taken"),            # this box's other lane
    (Claim("edge-1", "t0", 0.0), "edge-2", "edge-1", "taken"),            # a tie: lower id wins
    (Claim("edge-2", "t0", 0.0), "edge-1", "edge-1", "free"),             # … at both boxes
    (Claim("edge-3", "t0", 0.0), "edge-2", "edge-1", "free"),             # … and between others
])
def test_who_gets_a_pass_claimed_at_once(row, box, own, verdict) -> None:
    assert judge(row, box, "t1", own) == verdict


def test_two_boxes_claiming_at_both_at_once_one_wins() -> None:
    """Each box records its own claim, then each asks the other before either answer is back:
    the lower id wins at both registries, and only its claim can become final."""
    spent: set[str] = set()
    a, b = (Claims(box, spent.__contains__) for box in ("edge-1", "edge-2"))
    assert a.take("h", "edge-1", "ta").verdict == "free"
    assert b.take("h", "edge-2", "tb").verdict == "free"
    assert b.take("h", "edge-1", "ta").verdict == "free"  # A's question reaches B
    assert a.take("h", "edge-2", "tb") == Answer("taken", "edge-1")  # B's reaches A
    assert a.win("h", "ta").verdict == "free"
    assert b.win("h", "tb") == Answer("taken", "edge-1")
    # A won: a later claim from anywhere is refused, and once spent it says so.
    assert a.take("h", "edge-0", "tc") == Answer("taken", "edge-1")
    spent.add("h")
    assert b.take("h", "edge-0", "tc") == Answer("spent", "edge-2")


# A peer that answers, but not validly (issue 25's review) --------------------------------------
# Box A's side (SpendPeers) claims over real HTTP at a box B served by uvicorn: a real peer
# (edge.peers.routes) where B's own configuration causes the bad answer, else a peer that
# answers as told. Before: any answer but a valid one counted as "free", so a pass opened twice
# while the boxes could reach each other.
DIGEST = "ab" * 16


class Answering:
    """A box B that answers a claim as *mode* says (the valid answer with ``free``)."""

    def __init__(self) -> None:
        self.mode = "free"
        self.app = FastAPI()
        self.app.post(wire.CLAIM_PATH)(self.claim)

    async def claim(self, request: Request) -> Response:
        req = wire.ClaimRequest.model_validate_json(await request.body())
        if self.mode == "version_skew":
            return Response(b'{"detail": "malformed peer call: 1 errors"}', 422)
        box, nonce, status = "edge-2", req.nonce, "free"
        if self.mode == "other_nonce":
            nonce = secrets.token_hex(8)
        if self.mode == "malformed":
            status = "maybe"
        if self.mode == "other_box":
            box = "edge-3"
        body = f'{{"nonce": "{nonce}", "status": "{status}", "by": null}}'.encode()
        signature = wire.sign(SECRET, box, wire.CLAIM_PATH, body)
        if self.mode == "unsigned":
            signature = "00" * 32
        headers: dict[str, str] = {wire.BOX: box, wire.SIGNATURE: signature}
        response = Response(body, headers=headers)
        if self.mode == "non_ascii_signature":  # what a broken proxy or a stranger may send
            response.raw_headers = [(k, v) for k, v in response.raw_headers
                                    if k != wire.SIGNATURE.lower().encode()]
            response.raw_headers.append((wire.SIGNATURE.lower().encode(), "é".encode("latin-1")
                                         * 64))
        return response


def peer_box(tmp_path: Path, own: str, peer: str, url: str, secret: str = SECRET,
             sites: tuple[str, ...] = (SITE,)) -> SpendPeers:
    cfg = PeersConfig(secret=secret, timeout_ms=3000, boxes=[PeerConfig(id=peer, url=url)])
    return SpendPeers(own, cfg, list(sites), EdgeDB(tmp_path / f"{own}.sqlite"), Counters())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    """Serve apps on loopback for the test; each stopped and its box's file closed after."""
    webs: list[WebThread] = []
    boxes: list[SpendPeers] = []

    def serve(app: FastAPI) -> str:
        web = WebThread(app, "127.0.0.1", 0)
        web.start()
        webs.append(web)
        return web.url

    def box(*args: Any, **kw: Any) -> SpendPeers:
        got = peer_box(tmp_path, *args, **kw)
        boxes.append(got)
        return got

    yield serve, box
    for web in webs:
        web.stop()
    for b in boxes:
        b.stop()
        b.db.close()


def shown(a: SpendPeers, digest: str = DIGEST) -> tuple[Decision, dict[str, Any]]:
    """A lane of box A about to open for a single-use pass: what its claim makes of it."""
    extra: dict[str, Any] = {"source": "keypad"}
    decision = Decision(Outcome.OPEN, Reason.CODE_VALID, "a-in",
                        Credential(CredentialKind.CODE, digest), datetime.now(UTC))
    return a.claim(SITE, decision, extra), extra


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["secret_differs", "site_not_served", "version_skew",
                                  "unsigned", "non_ascii_signature", "malformed", "other_nonce",
                                  "other_box"])
def test_a_peer_that_answers_but_not_validly_refuses_the_pass(served, mode: str,
                                                              caplog) -> None:
    serve, box = served
    if mode in ("secret_differs", "site_not_served"):  # B's own routes answer 401 / 403
        b = box("edge-2", "edge-1", "http://127.0.0.1:9",
                secret="y" * 64 if mode == "secret_differs" else SECRET,
                sites=("blue-oaks",) if mode == "site_not_served" else (SITE,))
        app = FastAPI()
        mount_peers(app, b)
        url = serve(app)
    else:
        fake = Answering()
        fake.mode = mode
        url = serve(fake.app)
    a = box("edge-1", "edge-2", url)
    a.start()
    caplog.set_level(logging.INFO, logger="edge.peers.exchange")
    for _ in range(2):
        decision, extra = shown(a)
        assert (decision.outcome, decision.reason) == (Outcome.DENY, Reason.CODE_SPENT), mode
        assert extra["peer"] == {"box": "edge-2", "status": "unverified"}
        assert "edge-2 gave no valid answer" in decision.detail
    assert a.health()["edge-2"] == {"reachable": True, "state": "unverified", "waiting": 0}
    assert a.counters["peer_claims_unverified"] == 2
    said = peer_warnings(caplog)
    assert len(said) == 1 and said[0].levelno == logging.ERROR, said  # once, not per claim
    # The pass was not spent anywhere: a valid answer opens it, and that is logged once too.
    if mode not in ("secret_differs", "site_not_served"):
        fake.mode = "free"
        assert shown(a)[0].outcome is Outcome.OPEN
        assert a.health()["edge-2"]["state"] == "ok"
        assert [r.getMessage() for r in caplog.records][-1] == "peer edge-2 answers again"


@pytest.mark.timeout(60)
def test_a_peer_that_gives_no_answer_is_skipped_and_logged_once(served, caplog) -> None:
    """Nothing listens where the peer should be: as docs/codes.md says, the box decides alone."""
    _, box = served
    a = box("edge-1", "edge-2", f"http://127.0.0.1:{free_port()}")
    a.start()
    caplog.set_level(logging.INFO, logger="edge.peers.exchange")
    for digest in ("cd" * 16, "ef" * 16):
        decision, extra = shown(a, digest)
        assert decision.outcome is Outcome.OPEN and "peer" not in extra
    assert a.health()["edge-2"] == {"reachable": False, "state": "unreachable", "waiting": 0}
    assert len(peer_warnings(caplog)) == 1


def peer_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the peer exchange said at WARNING or above (the process's other loggers, such as a
    relay client of another test still closing, are not this test's business)."""
    return [r for r in caplog.records
            if r.name.startswith("edge.peers") and r.levelno >= logging.WARNING]


@pytest.mark.timeout(60)
def test_a_signature_that_is_not_ascii_is_refused_not_an_error(served) -> None:
    """Before: ``hmac.compare_digest`` raised TypeError on the str, and the call answered 500."""
    serve, box = served
    b = box("edge-2", "edge-1", "http://127.0.0.1:9")
    app = FastAPI()
    mount_peers(app, b)
    url = serve(app)
    body = wire.ClaimRequest(site=SITE, hash=DIGEST, token=secrets.token_hex(8),
                             nonce=secrets.token_hex(8)).model_dump_json().encode()
    r = httpx.post(url + wire.CLAIM_PATH, content=body, timeout=10, headers={
        wire.BOX: "edge-1", wire.SIGNATURE: "é".encode("latin-1") * 64})
    assert r.status_code == 401, r.text
    assert not wire.verify(SECRET, "edge-1", wire.CLAIM_PATH, body, "é" * 64)
    assert wire.verify(SECRET, "edge-1", wire.CLAIM_PATH, body,
                       wire.sign(SECRET, "edge-1", wire.CLAIM_PATH, body))
