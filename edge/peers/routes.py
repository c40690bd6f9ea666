"""The peer calls on the box's local API: ``POST /peers/claim`` and ``POST /peers/spend``
(``edge.peers.wire``). They sit outside ``/api/``: a peer proves itself with the site's shared
secret, not with the panel's token, and a call that is not signed by a configured peer is
refused (401) before its body is read as anything."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from edge.peers import wire
from edge.peers.exchange import SpendPeers

MAX_BODY = 256 * 1024  # a full spends batch is about 100 kB


async def _body(request: Request) -> bytes:
    """The request's body, refused past ``MAX_BODY`` as it streams in."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise HTTPException(413, "a peer call is at most 256 kB")
        chunks.append(chunk)
    return b"".join(chunks)


def mount_peers(app: FastAPI, peers: SpendPeers) -> None:
    """Answer the site's other boxes (``peers.boxes``) on *app*."""

    async def checked(request: Request, path: str, model: type[BaseModel]) -> tuple[str, Any]:
        body = await _body(request)
        box = request.headers.get(wire.BOX, "")
        if not peers.authentic(box, path, body, request.headers.get(wire.SIGNATURE, "")):
            raise HTTPException(401, "a peer call needs the signature of a configured peer")
        try:
            return box, model.model_validate_json(body)
        except ValidationError as exc:
            raise HTTPException(422, f"malformed peer call: {exc.error_count()} errors") from exc

    def answer(path: str, data: BaseModel) -> Response:
        body = data.model_dump_json().encode()
        return Response(body, headers=peers.signed(path, body))

    @app.post(wire.CLAIM_PATH, include_in_schema=False)
    async def claim(request: Request) -> Response:
        """A peer box asks to spend a single-use pass now: free, taken or spent."""
        box, req = await checked(request, wire.CLAIM_PATH, wire.ClaimRequest)
        got = await run_in_threadpool(peers.on_claim, box, req)
        if got is None:
            raise HTTPException(403, f"site {req.site} is not served by this box")
        return answer(wire.CLAIM_PATH, got)

    @app.post(wire.SPEND_PATH, include_in_schema=False)
    async def spend(request: Request) -> Response:
        """A peer box tells of single-use passes it let in."""
        box, req = await checked(request, wire.SPEND_PATH, wire.SpendRequest)
        return answer(wire.SPEND_PATH, await run_in_threadpool(peers.on_spend, box, req))
