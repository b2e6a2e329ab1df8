"""Job callbacks from Descript: so jobs are seen to end without waiting for the next poll.

Each job-creating call gets its own unguessable callback URL. A callback's body is never
believed: it only prompts a `GET /jobs/{id}` with the caller's token, and what that returns is
what gets recorded. A forged or replayed callback therefore changes nothing Descript would not
confirm.
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from descript_mcp.errors import DescriptError
from descript_mcp.server.callers import Caller

logger = logging.getLogger(__name__)

CALLBACK_PATH = "/callbacks"
MAX_CALLBACK_BODY = 256 * 1024


class CallbackRegistry:
    """Secrets of callback URLs, each tied to the caller that started the job. In memory only:
    tokens are never stored."""

    def __init__(self, base_url: str | None, size: int = 10_000) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self._callers: OrderedDict[str, Caller] = OrderedDict()
        self._size = size

    def url_for(self, caller: Caller) -> str | None:
        if self.base_url is None:
            return None
        secret = secrets.token_urlsafe(32)
        self._callers[secret] = caller
        while len(self._callers) > self._size:
            self._callers.popitem(last=False)
        return f"{self.base_url}{CALLBACK_PATH}/{secret}"

    def caller_for(self, secret: str) -> Caller | None:
        return self._callers.get(secret)


async def receive_callback(request: Request, state: Any) -> Response:
    """POST {CALLBACK_PATH}/{secret}: confirm the job with Descript, then record it."""
    caller = state.callbacks.caller_for(request.path_params["secret"])
    if caller is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    body = await request.body()
    if len(body) > MAX_CALLBACK_BODY:
        return JSONResponse({"error": "too_large"}, status_code=413)
    try:
        job_id = (await request.json()).get("job_id")
    except (ValueError, AttributeError):
        job_id = None
    if not isinstance(job_id, str) or not job_id:
        return JSONResponse({"error": "no job_id"}, status_code=400)
    try:
        job = await caller.client.get_job(job_id)  # the only source of truth
    except DescriptError as error:
        logger.info("callback for %s not confirmed: %s", job_id, type(error).__name__)
        return JSONResponse({"error": "not confirmed"}, status_code=404)
    await state.tracker.observe(caller.owner, job)
    return Response(status_code=204)
