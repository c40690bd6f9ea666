"""How large a request body may be, in bytes, before it is read.

The cloud counts a body's bytes as they stream in and refuses it with 413 ``body_too_large``
once past its route's limit; a ``Content-Length`` over the limit is refused before a byte is
read. A refused body never sits in memory whole (a 100 MB JSON body cost the cloud 400 MB when
it was read first and checked after). Every route takes ``JSON_BODY_MAX``; the routes that take
files or bulk lists declare their larger limit (``max_body_size=`` on the route).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

MIB = 1024 * 1024
JSON_BODY_MAX = 2 * MIB
BULK_BODY_MAX = 32 * MIB  # bulk tags and vehicles, schedule bindings, subscription imports
RESIDENTS_CSV_MAX = 32 * MIB  # POST /residents/import: 20 million characters
STICKERS_CSV_MAX = 64 * MIB  # POST /sites/{site}/tags/import: 50 million characters


def refusal(limit: int | None) -> bytes:
    """The body of a 413: the cloud's refusal, ``body_too_large``."""
    said = f" ({limit} bytes)" if limit is not None else ""
    return json.dumps({"detail": {"reason": "body_too_large", "message": "the request body "
                                  f"is larger than this route takes{said}"}}).encode()


class CloudApp(FastAPI):
    """FastAPI whose every 413 is the cloud's refusal (JSON with ``body_too_large``).

    Starlette answers a body over the limit with plain text, and for a ``Content-Length``
    over it replaces whatever the app answered, outside every handler of the app; so the
    answer is put in shape around the whole stack.

    It is built around its *services* (``app.state.services``, read by the routes'
    dependencies, ``cloud.api.deps``) and includes *routers* as it is made."""

    def __init__(self, services: object, routers: Iterable[APIRouter], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state.services = services
        for router in routers:
            self.include_router(router)

    def build_middleware_stack(self) -> ASGIApp:
        """The stack FastAPI builds, inside :class:`_ShapedTooLarge`."""
        return _ShapedTooLarge(super().build_middleware_stack())


class _ShapedTooLarge:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def shaped(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 413:
                replaced = True
                body = refusal(scope.get(MAX_BODY_SIZE_SCOPE_KEY))
                log.warning("refused %s %s: a body over the limit", scope.get("method"),
                            scope.get("path"))
                await send({"type": "http.response.start", "status": 413, "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
            elif not replaced:
                await send(message)

        await self.app(scope, receive, shaped)
