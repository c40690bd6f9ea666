"""The commands the cloud sends a box: one model per command, told apart by ``action``.

A command is signed over every field it carries but ``sig`` (``shared.commands``), so the
model keeps what it was given and :meth:`OpenCommand.wire` gives it back unchanged: fields
a newer cloud adds are kept (and signed), and nothing is filled in that did not travel.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class OpenCommand(BaseModel):
    """A signed remote open (docs/mqtt.md, Remote open)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: Literal["command"] = "command"
    action: Literal["open"] = "open"
    id: str = Field(max_length=100, description="unique per command; the answer's transaction")
    site: str = ""
    gate: str = ""
    vrn: str | None = None
    by: str = ""
    issued_at: str = Field("", description="ISO 8601 with its offset, as signed")
    expires_at: str = Field("", description="at most 30 s after issued_at")
    sig: str = Field("", description="hex HMAC-SHA256 of the canonical JSON of the rest")

    def wire(self) -> dict[str, Any]:
        """The command as it travels (and as it was signed, with ``sig``)."""
        return self.model_dump(mode="json", exclude_unset=True)

