"""Argument types shared by several tools, described for the model that fills them."""

from typing import Annotated

from pydantic import Field

from descript_mcp.errors import MAX_ID

WaitSeconds = Annotated[
    float | None,
    Field(
        ge=0,
        le=600,
        description="Seconds to wait for the job to finish before returning its id and state "
        "(default: the server's, 45). Keep it under 55 in Claude Desktop, which drops calls "
        "after about 60 s. The job goes on in Descript either way.",
    ),
]
JobId = Annotated[
    str, Field(min_length=1, max_length=MAX_ID, description="A job id returned by a job tool")
]
ProjectId = Annotated[
    str, Field(min_length=1, max_length=MAX_ID, description="A Descript project id (a UUID)")
]
CompositionId = Annotated[
    str | None,
    Field(
        description="A composition (timeline) of the project: its UUID, the 5-character id "
        "from a Descript URL, or the URL. Default: the first composition with content.",
    ),
]
Cursor = Annotated[str | None, Field(description="next_cursor from the previous page")]
Limit = Annotated[int, Field(ge=1, le=100, description="Items per page")]
DownloadTo = Annotated[
    str | None,
    Field(
        description="Save the published file at this absolute path on this computer (under "
        "the folders the server may write), once the publish has finished",
    ),
]
Overwrite = Annotated[bool, Field(description="Replace the file if it exists")]
Force = Annotated[
    bool,
    Field(
        description="Submit even if the same call was made in the last 10 minutes; without it, "
        "such a repeat returns the earlier call's job instead of paying twice",
    ),
]
