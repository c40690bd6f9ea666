"""The cloud's one error type: every refusal of every domain is a :class:`CloudError`.

Its ``reason`` is a stable code for programs, listed with its status in ``docs/cloud-api.md``
(a test keeps that list complete); its ``message`` is for people.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, Field

from cloud.refusals import Refusal


class CloudError(Exception):
    """A refused request or change: HTTP status, a stable reason code, a message for people."""

    def __init__(self, status: int, reason: Refusal | str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


class ErrorDetail(BaseModel):
    """What a refusal says."""

    reason: str = Field(description="a stable code (docs/cloud-api.md, Refusals)")
    message: str = Field(description="for people; may change")


class ErrorBody(BaseModel):
    """The body of every refused request (a body that does not parse answers FastAPI's own
    422 list instead)."""

    detail: ErrorDetail


class UnprocessableBody(BaseModel):
    """A 422: a refusal of ours (``bad_id``, ``weak_password``, …), or FastAPI's list of the
    fields a body broke."""

    detail: ErrorDetail | list[dict[str, Any]]


class BadRequestBody(BaseModel):
    """A 400: the body is not text the server can read at all."""

    detail: str


# The statuses a route may refuse with, for the API's schema (routers take these whole).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": BadRequestBody, "description": "a body that cannot be read"},
    422: {"model": UnprocessableBody, "description": "a body or value out of bounds"},
}
ERROR_RESPONSES.update({
    status: {"model": ErrorBody, "description": text} for status, text in (
        (401, "no valid API key"), (403, "the key may not do this"),
        (404, "the thing named does not exist"), (409, "refused by a rule"),
        (502, "the payment provider failed"), (503, "the broker or a provider is not there"),
        (504, "the box did not answer in time"))})


# A row id or number in a route's path: within what both databases store (larger answers 422).
RowId = Annotated[int, Path(ge=0, le=2**53)]
