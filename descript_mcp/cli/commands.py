"""The command line's Descript commands: import, agent, publish, jobs, status, doctor.

Each prints a short human summary (or JSON with --json), shows live progress on a terminal,
and exits 0 on success, 1 when a job did not succeed, 2 on a usage or configuration error,
3 when Descript refused the request or could not be reached.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from descript_mcp.client.api import DescriptClient
from descript_mcp.client.models import (
    AgentEditRequest,
    Clip,
    ImportMediaRequest,
    Job,
    MediaItem,
    NewComposition,
    PublishJob,
    PublishRequest,
    UploadMedia,
    UrlMedia,
)
from descript_mcp.client.waiter import ProgressUpdate, wait_for_job
from descript_mcp.errors import APIError, ConfigurationError, DescriptError, LocalFileError
from descript_mcp.files.local import ReadableFile, SavePlace
from descript_mcp.files.published import download_published
from descript_mcp.files.roots import expand_home
from descript_mcp.files.sharelinks import direct_download_url
from descript_mcp.files.transfer import content_type_of, upload_file
from descript_mcp.server.summaries import JobSummary, summarize
from descript_mcp.settings import Settings

EXIT_OK, EXIT_JOB_FAILED, EXIT_USAGE, EXIT_API = 0, 1, 2, 3
stderr = Console(stderr=True)


class Output:
    """Where a command reports: progress on stderr (terminals only), results on stdout."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.live = stderr.is_terminal and not as_json

    @asynccontextmanager
    async def progress(self, *, transfer: bool = False) -> AsyncIterator[Progress]:
        columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
        columns += (
            [DownloadColumn(), TransferSpeedColumn()]
            if transfer
            else [TaskProgressColumn(), TimeElapsedColumn()]
        )
        with Progress(*columns, console=stderr, disable=not self.live) as bar:
            yield bar

    def job(self, summary: JobSummary, **extra: Any) -> int:
        """The job's summary; `extra` fields (what the command did besides) in its JSON."""
        if self.as_json:
            print(json.dumps(summary.model_dump(mode="json") | extra, indent=2))
        else:
            print(summary.summary)
            for media in summary.media or []:
                detail = f"{media.duration_seconds} s" if media.status == "success" else media.error
                print(f"  {media.name}: {media.status} ({detail})")
        return EXIT_OK if summary.outcome == "success" else EXIT_JOB_FAILED

    def data(self, value: Any, text: str) -> int:
        print(json.dumps(value, indent=2, default=str) if self.as_json else text)
        return EXIT_OK


async def run_command(
    settings: Settings, as_json: bool, command: Callable[[DescriptClient, Output], Awaitable[int]]
) -> int:
    """Run a command with a client from the settings; errors become messages and exit codes."""
    output = Output(as_json)
    try:
        async with DescriptClient(settings.token(), base_url=settings.api_url) as client:
            return await command(client, output)
    except (ConfigurationError, LocalFileError) as error:
        stderr.print(f"[red]error:[/red] {error}")
        return EXIT_USAGE
    except (APIError, DescriptError) as error:
        stderr.print(f"[red]error:[/red] {error}")
        return EXIT_API


async def _wait(client: DescriptClient, output: Output, job_id: str, wait: float | None) -> Job:
    async with output.progress() as bar:
        task = bar.add_task(job_id, total=100)

        def show(update: ProgressUpdate) -> None:
            bar.update(
                task,
                description=update.label or update.job_state,
                completed=100 if update.job.is_terminal else update.percent or 0,
            )

        return await wait_for_job(client, job_id, max_wait=wait, on_progress=show)


def _media_item(source: str) -> tuple[str, MediaItem, Path | None]:
    """A media argument: a URL (share links converted) or a local file to upload."""
    if source.startswith(("http://", "https://")):
        name = source.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "media"
        return name, UrlMedia(url=direct_download_url(source)), None
    path = expand_home(source)
    if not path.is_file():
        raise LocalFileError(f"'{source}' is not a file.")
    return (
        path.name,
        UploadMedia(content_type=content_type_of(path), file_size=path.stat().st_size),
        path.resolve(),
    )


def import_command(
    media: list[str],
    project_name: str | None,
    project_id: str | None,
    composition: str | None,
    wait: float | None,
) -> Callable[[DescriptClient, Output], Awaitable[int]]:
    planned = [_media_item(source) for source in media]

    async def run(client: DescriptClient, output: Output) -> int:
        request = ImportMediaRequest(
            project_name=project_name,
            project_id=project_id,
            add_media={name: item for name, item, _ in planned},
            add_compositions=[
                NewComposition(name=composition, clips=[Clip(media=name) for name, _, _ in planned])
            ]
            if composition
            else None,
        )
        created = await client.import_project_media(request)
        stderr.print(f"import started: {created.job_id}")
        uploads = [(name, path) for name, _, path in planned if path is not None]
        try:
            async with output.progress(transfer=True) as bar:
                for name, path in uploads:
                    with ReadableFile.at(path) as file:
                        task = bar.add_task(f"uploading {name}", total=file.size)

                        async def sent(done: int, _total: int | None, task: Any = task) -> None:
                            bar.update(task, completed=done)

                        upload_url = created.upload_urls[name].upload_url
                        await upload_file(client, upload_url, file, sent)
        except BaseException:  # interrupted or failed: the import could never finish
            with anyio.CancelScope(shield=True):
                await client.cancel_job(created.job_id)
            stderr.print(f"import {created.job_id} cancelled: an upload did not complete")
            raise
        return output.job(summarize(await _wait(client, output, created.job_id, wait)))

    return run


def agent_command(
    prompt: str,
    project_id: str | None,
    new_project: str | None,
    composition_id: str | None,
    model: str | None,
    wait: float | None,
) -> Callable[[DescriptClient, Output], Awaitable[int]]:
    async def run(client: DescriptClient, output: Output) -> int:
        created = await client.agent_edit(
            AgentEditRequest(
                prompt=prompt,
                project_id=project_id,
                project_name=new_project,
                composition_id=composition_id,
                model=model,
            )
        )
        stderr.print(f"agent edit started: {created.job_id} ({created.resolved_model})")
        return output.job(summarize(await _wait(client, output, created.job_id, wait)))

    return run


def publish_command(
    request: PublishRequest, download_to: Path | None, overwrite: bool, wait: float | None
) -> Callable[[DescriptClient, Output], Awaitable[int]]:
    if download_to is not None and download_to.exists() and not overwrite:
        raise LocalFileError(f"'{download_to}' exists: pass --overwrite to replace it.")

    async def run(client: DescriptClient, output: Output) -> int:
        created = await client.publish(request)
        stderr.print(f"publish started: {created.job_id}")
        job = await _wait(client, output, created.job_id, wait)
        summary = summarize(job)
        saved_file: dict[str, Any] = {}
        if download_to is not None and isinstance(job, PublishJob) and summary.outcome == "success":
            async with output.progress(transfer=True) as bar:
                task = bar.add_task(f"saving {download_to.name}", total=None)

                async def saved(done: int, total: int | None) -> None:
                    bar.update(task, completed=done, total=total)

                with SavePlace.at(download_to, overwrite=overwrite) as place:
                    size = await download_published(
                        client, job, place, overwrite=overwrite, on_bytes=saved
                    )
            summary.summary += f" Saved to {download_to} ({size} bytes)."
            saved_file = {"saved_to": str(download_to), "saved_bytes": size}
        return output.job(summary, **saved_file)

    return run


def jobs_command(
    action: str, job_id: str | None, filters: dict[str, Any], wait: float | None
) -> Callable[[DescriptClient, Output], Awaitable[int]]:
    async def run(client: DescriptClient, output: Output) -> int:
        if action == "list":
            page = await client.list_jobs_page(**filters)
            rows = [summarize(job) for job in page.items]
            text = (
                "\n".join(f"{s.job_id}  {s.job_type:<21} {s.state:<9} {s.outcome}" for s in rows)
                or "no jobs"
            )
            return output.data([r.model_dump(mode="json") for r in rows], text)
        assert job_id is not None
        if action == "cancel":
            await client.cancel_job(job_id)
        if action == "wait":
            return output.job(summarize(await _wait(client, output, job_id, wait)))
        summary = summarize(await client.get_job(job_id))
        output.job(summary)
        return EXIT_OK

    return run


async def status_command(client: DescriptClient, output: Output) -> int:
    status = await client.get_status()
    text = f"Drive {status.drive_name} ({status.drive_id}), API {status.api_version}"
    return output.data(status.model_dump(mode="json"), text)


async def doctor(settings: Settings) -> int:
    """Check what the server needs and say what to fix; 0 when everything is in order."""
    problems: list[str] = []

    def report(ok: bool, what: str, fix: str = "") -> None:
        mark = "[green]ok[/green]  " if ok else "[red]fail[/red]"
        stderr.print(f"{mark} {what}" + ("" if ok else f"\n      → {fix}"))
        if not ok:
            problems.append(what)

    token = settings.token()
    report(
        token is not None,
        "API token configured",
        "run `descript-mcp config set api-key`, or set DESCRIPT_API_KEY",
    )
    if token is not None:
        try:
            async with DescriptClient(token, base_url=settings.api_url) as client:
                status = await client.get_status()
            report(True, f"Descript answers at {settings.api_url}: drive {status.drive_name}")
        except DescriptError as error:
            report(False, f"Descript at {settings.api_url}", str(error))
    try:
        from descript_mcp.history import History

        await (await History.open(settings.history_path, settings.database())).aclose()
        report(True, f"job history: {settings.history_place()}")
    except Exception as error:  # any failure to open the history is what doctor reports
        report(
            False,
            f"job history: {settings.history_place()}",
            f"{type(error).__name__}; set DESCRIPT_MCP_HISTORY to a writable place, or "
            "DESCRIPT_MCP_DATABASE_URL to a reachable PostgreSQL",
        )
    if not settings.roots:
        report(True, "local files are off (set DESCRIPT_MCP_ROOTS to allow folders)")
    for root in settings.roots:
        try:
            path = expand_home(root)
        except LocalFileError as error:
            report(False, f"root folder {root}", f"{error} Fix DESCRIPT_MCP_ROOTS")
            continue
        report(path.is_dir(), f"root folder {path}", "create it, or fix DESCRIPT_MCP_ROOTS")
    stderr.print("all good" if not problems else f"{len(problems)} problem(s)")
    return EXIT_OK if not problems else EXIT_JOB_FAILED
