"""The cloud's one error type: every refusal of every domain is a :class:`CloudError`.

Its ``reason`` is a stable code for programs, listed with its status in ``docs/cloud-api.md``
(a test keeps that list complete); its ``message`` is for people.
"""

from __future__ import annotations


class CloudError(Exception):
    """A refused request or change: HTTP status, a stable reason code, a message for people."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message
