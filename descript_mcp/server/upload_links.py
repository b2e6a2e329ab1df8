"""Direct uploads: the signed URLs an import's answer gives for the files its caller sends
itself (a script, an agent's shell, a person's browser), what the caller is told to do with
them, and this process's memory of them, so that the same call repeated is answered with the
same links instead of a second import."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from mcp.server.mcpserver.exceptions import ToolError

from descript_mcp.client.expiry import upload_url_expiry
from descript_mcp.files.transfer import content_type_of
from descript_mcp.server.summaries import JobSummary, UploadLink

if TYPE_CHECKING:
    from descript_mcp.client.models import UploadMedia, UploadTarget

# Imports remembered at most; the oldest are forgotten first.
REMEMBERED = 10_000


def sent_by_caller(
    name: str, file_size: int, content_type: str | None, language: str | None = None
) -> UploadMedia:
    """The import's item for a file its caller sends, typed from its name unless told."""
    from descript_mcp.client.models import UploadMedia  # with the first import of media

    if not PurePosixPath(name).suffix:
        raise ToolError(
            f"Give the media name '{name}' the file's extension (like {name}.mp4): Descript "
            "reads the media type from it."
        )
    return UploadMedia(
        content_type=content_type or content_type_of(name), file_size=file_size, language=language
    )


def upload_command(name: str, upload_url: str) -> str:
    """A shell command that sends the file `name` to `upload_url` as Descript asks: a PUT of the
    raw bytes as application/octet-stream, its length from the file, and no token."""
    return (
        f"curl --fail-with-body -T {shlex.quote(name)} "
        f"-H 'Content-Type: application/octet-stream' {shlex.quote(upload_url)}"
    )


def links_of(
    targets: Mapping[str, UploadTarget], names: Sequence[str], issued_at: datetime
) -> tuple[list[UploadLink], list[str]]:
    """The links for `names` from an import's `upload_urls`, and the names it gave none."""
    links, missing = [], []
    for name in names:
        target = targets.get(name)
        if target is None:
            missing.append(name)
            continue
        expires = upload_url_expiry(target.upload_url, issued_at)
        links.append(
            UploadLink(
                name=name,
                upload_url=target.upload_url,
                expires_at=expires.isoformat(timespec="seconds"),
                command=upload_command(name, target.upload_url),
            )
        )
    return links, missing


def awaiting_bytes(summary: JobSummary, links: list[UploadLink], names: Sequence[str]) -> None:
    """Tell the caller of an import that waits for bytes only it can send what to do."""
    summary.uploads = links or None
    if not links:
        summary.summary = (
            f"{summary.summary} Its upload URLs went to the earlier call and are not known here: "
            f"if its files were not sent, cancel_job {summary.job_id} and import again with "
            "force: true."
        )
        return
    until = min(link.expires_at for link in links)
    summary.summary = (
        f"Import {summary.job_id} waits for the bytes of {', '.join(names)}: PUT each file to "
        f"its upload_url (the command in uploads does it; valid until {until}, 3 hours), then "
        "follow it with get_job. A file whose bytes never arrive fails when its link expires "
        f"and costs nothing; cancel_job stops the import sooner."
    )


class UploadLinks:
    """The upload links this process handed out, by owner and job, while they are valid."""

    def __init__(self) -> None:
        self._by_job: dict[tuple[str, str], list[UploadLink]] = {}

    def keep(self, owner: str, job_id: str, links: list[UploadLink]) -> None:
        self._forget_expired()
        if len(self._by_job) >= REMEMBERED:
            del self._by_job[next(iter(self._by_job))]
        self._by_job[(owner, job_id)] = links

    def get(self, owner: str, job_id: str) -> list[UploadLink]:
        """The job's links still valid, if this process gave them out."""
        self._forget_expired()
        return list(self._by_job.get((owner, job_id), []))

    def _forget_expired(self) -> None:
        now = datetime.now(UTC)
        for key, links in list(self._by_job.items()):
            valid = [link for link in links if datetime.fromisoformat(link.expires_at) > now]
            if valid:
                self._by_job[key] = valid
            else:
                del self._by_job[key]
