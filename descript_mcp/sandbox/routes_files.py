"""What is not the API itself: sample media, signed uploads and downloads, web pages."""

from __future__ import annotations

import functools
import re

from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response

from descript_mcp.sandbox import documents
from descript_mcp.sandbox.engine import HEAD_BYTES
from descript_mcp.sandbox.http import sandbox_of
from descript_mcp.sandbox.media import SAMPLE_SECONDS, synthesize_wav
from descript_mcp.sandbox.signing import check_signature

SAMPLE_NAME = "sample.wav"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


@functools.cache
def sample_wav() -> bytes:
    return synthesize_wav(SAMPLE_SECONDS)


def _storage_error(status: int, code: str, message: str) -> Response:
    body = (
        f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
        f"<Message>{message}</Message></Error>"
    )
    return Response(body, status_code=status, media_type="application/xml")


def _serve_bytes(request: Request, content: bytes, media_type: str, *, ranges: bool) -> Response:
    """Serve bytes, honouring a single `Range: bytes=a-b` when `ranges` is on."""
    header = request.headers.get("range")
    match = _RANGE.match(header or "") if ranges else None
    if match is None or not (match[1] or match[2]):
        extra = {"Accept-Ranges": "bytes"} if ranges else {}
        return Response(content, media_type=media_type, headers=extra)
    size = len(content)
    if match[1]:
        start, end = int(match[1]), min(int(match[2] or size - 1), size - 1)
    else:
        start, end = max(0, size - int(match[2])), size - 1
    if start >= size or start > end:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    return Response(
        content[start : end + 1],
        status_code=206,
        media_type=media_type,
        headers={
            "Accept-Ranges": "bytes",
            "Content-Range": f"bytes {start}-{end}/{size}",
        },
    )


async def sample_media(request: Request) -> Response:
    """The built-in sample. Served as `sample` (no extension) and with `?ranges=0` it shows
    how imports fail for media without a type or a host without Range support."""
    name = request.path_params["name"]
    if name not in (SAMPLE_NAME, SAMPLE_NAME.removesuffix(".wav")):
        return Response("not found", status_code=404)
    ranges = request.query_params.get("ranges") != "0"
    return _serve_bytes(request, sample_wav(), "audio/wav", ranges=ranges)


def _refuse_signed(request: Request, kind: str, target: object | None) -> Response | None:
    """The storage error for a bad or expired signed URL, or None when it may be used."""
    problem = check_signature(
        sandbox_of(request).config.signing_key,
        kind,
        request.path_params["ident"],
        request.query_params.get("expires", ""),
        request.query_params.get("signature", ""),
    )
    if problem == "ExpiredToken":
        return _storage_error(400, problem, "The provided token has expired.")
    if problem or target is None:
        return _storage_error(403, "SignatureDoesNotMatch", "The request signature is invalid.")
    return None


# As a bucket configured for uploads from web pages answers: any origin may PUT, without
# credentials (a signed URL is its own), and read the answer.
_CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "ETag"}
_PREFLIGHT = {
    **_CORS,
    "Access-Control-Allow-Methods": "PUT",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "3600",
}
# The type Descript's upload URLs are signed for ("Use Content-Type: application/octet-stream").
UPLOAD_CONTENT_TYPE = "application/octet-stream"


async def upload(request: Request) -> Response:
    """A signed upload URL: PUT (streamed, type- and size-checked, then the import proceeds),
    and the CORS preflight a browser sends before it."""
    if request.method == "OPTIONS":
        allowed = dict(_PREFLIGHT)
        if request.headers.get("access-control-request-private-network") == "true":
            allowed["Access-Control-Allow-Private-Network"] = "true"
        return Response(status_code=200, headers=allowed)
    response = await _receive(request)
    response.headers.update(_CORS)
    return response


async def _receive(request: Request) -> Response:
    target = sandbox_of(request).world.uploads.get(request.path_params["ident"])
    if refusal := _refuse_signed(request, "uploads", target):
        return refusal
    assert target is not None
    content_type = request.headers.get("content-type", "").strip().lower()
    if content_type != UPLOAD_CONTENT_TYPE:
        return _storage_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided: "
            f"this URL is signed for Content-Type: {UPLOAD_CONTENT_TYPE}, not "
            f"{content_type or 'none'}.",
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared != str(target.declared_size):
        return _storage_error(
            400,
            "InvalidArgument",
            f"Content-Length {declared} does not match the declared file_size "
            f"{target.declared_size}.",
        )
    head, size = bytearray(), 0
    try:
        async for chunk in request.stream():
            if len(head) < HEAD_BYTES:
                head += chunk[: HEAD_BYTES - len(head)]
            size += len(chunk)
            if size > target.declared_size:
                return _storage_error(
                    400, "InvalidArgument", "More bytes than the declared file_size."
                )
    except ClientDisconnect:  # an upload abandoned mid-way: nothing is kept
        return _storage_error(400, "IncompleteBody", f"The connection closed after {size} bytes.")
    if size != target.declared_size:
        return _storage_error(
            400, "IncompleteBody", f"Received {size} bytes, expected {target.declared_size}."
        )
    target.head, target.received_size = bytes(head), size
    target.arrived.set()
    return Response(status_code=200)


async def download(request: Request) -> Response:
    stored = sandbox_of(request).world.files.get(request.path_params["ident"])
    if refusal := _refuse_signed(request, "files", stored):
        return refusal
    assert stored is not None
    response = _serve_bytes(request, stored.content, stored.content_type, ranges=True)
    response.headers["Content-Disposition"] = f'attachment; filename="{stored.filename}"'
    return response


async def share_page(request: Request) -> Response:
    found = sandbox_of(request).world.publishes.get(request.path_params["slug"])
    if found is None:
        return HTMLResponse(documents.page("Not found", []), status_code=404)
    project, record = found
    return HTMLResponse(
        documents.page(
            record.name,
            [
                ("Project", project.name),
                ("Media type", record.media_type),
                ("Access", record.access_level),
                ("Duration", f"{record.duration:.1f} s"),
            ],
        )
    )


async def project_page(request: Request) -> Response:
    project = sandbox_of(request).world.projects.get(request.path_params["project_id"])
    if project is None:
        return HTMLResponse(documents.page("Not found", []), status_code=404)
    rows = [(c.name, f"{project.duration_of(c):.1f} s") for c in project.compositions]
    return HTMLResponse(documents.page(project.name, rows))
