"""Requests are strict (Descript answers unknown fields with 400); responses are lenient.

Both build their validators when first used, not at import: a server starting up needs only its
tools' schemas, and most API models are first used by the first API call."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    """A request body. Unknown fields are refused here rather than by Descript."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    def to_body(self) -> dict[str, Any]:
        """The JSON body as Descript expects it: unset options left out."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class ResponseModel(BaseModel):
    """A response body. Fields Descript adds later are kept, not rejected."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)
