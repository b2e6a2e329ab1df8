"""Argument types shared by several tools, described for the model that fills them: what it
needs to choose a value, no more (the schema already shows types and defaults)."""

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

from descript_mcp.client.models import SpeakerLabels, Timecodes, TranscriptFormat
from descript_mcp.errors import MAX_ID

WaitSeconds = Annotated[
    float | None,
    Field(
        ge=0,
        description="Wait this long for the end; the job goes on regardless. Under 55 in "
        "Claude Desktop",
    ),
]
# A required id of any kind (a composition's, a media item's), bounded as Descript's are.
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID)]
JobId = Id
ProjectId = Id
CompositionId = Annotated[
    str | None,
    Field(description="UUID, 5-character id or URL; default: the first with content"),
]
AgentCompositionId = Annotated[
    str | None,
    Field(description="UUID, 5-character id or URL, to focus on; default: the agent chooses"),
]
Cursor = Annotated[str | None, Field(description="next_cursor of the previous page")]
Limit = Annotated[int, Field(ge=1, le=100)]


def _date_or_time(value: Any) -> Any:
    """An ISO 8601 date stays a date (the whole UTC day, as Descript reads one), anything
    longer is a time; pydantic alone would make 2026-08-01 that day's first instant."""
    if isinstance(value, str) and len(value.strip()) == 10:
        return date.fromisoformat(value.strip())
    return value


Dated = Annotated[
    datetime | date | None,
    BeforeValidator(_date_or_time),
    WithJsonSchema(
        {
            "type": "string",
            "description": "A date (whole UTC day) or time (UTC if no offset)",
        }
    ),
]
Force = Annotated[
    bool,
    Field(description="Submit again even if this same call was accepted in the last 10 minutes"),
]
Format = Annotated[TranscriptFormat, Field(description="docx: save_file only")]
Speakers = Annotated[SpeakerLabels | None, Field(description="Default changes")]
Markers = Annotated[bool | None, Field(description="Include markers")]
Timecoded = Annotated[Timecodes | None, Field(description="Timecodes every N s and/or on events")]
