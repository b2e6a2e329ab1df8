"""The round trip a new user runs first: import → agent edit → publish, with live progress."""

from __future__ import annotations

import io
import math
import struct
import sys
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TextIO

from descript_mcp.client import DescriptClient
from descript_mcp.jobs import ProgressUpdate, wait_for_job
from descript_mcp.models import (
    AgentEditRequest,
    Clip,
    ImportMediaRequest,
    Job,
    NewComposition,
    PublishRequest,
    UploadMedia,
    UrlMedia,
)

AGENT_PROMPT = "Apply Studio Sound to every clip, remove filler words and add captions."


class DemoError(Exception):
    """A step of the demo did not succeed; the message says which."""


def tone_wav(seconds: float = 3.0, rate: int = 16_000) -> bytes:
    """A short WAV made here, to show a direct upload of local bytes."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


@asynccontextmanager
async def _sandbox_api(fast: bool) -> AsyncIterator[tuple[str, str]]:
    from descript_mcp.sandbox import Sandbox, SandboxConfig, serve

    config = SandboxConfig.for_tests() if fast else SandboxConfig()
    async with Sandbox(config) as sandbox, serve(sandbox) as api_url:
        yield api_url, sandbox.token


async def run_demo(
    *,
    api_url: str | None = None,
    api_key: str | None = None,
    media_url: str | None = None,
    fast: bool = False,
    out: TextIO = sys.stdout,
) -> None:
    """Run the round trip against `api_url`, or against a built-in sandbox when it is None."""
    if api_url is None:
        async with _sandbox_api(fast) as (sandbox_url, token):
            out.write(f"Started the Descript sandbox at {sandbox_url}\n")
            sample = sandbox_url.removesuffix("/v1") + "/_sandbox/media/sample.wav"
            await _round_trip(sandbox_url, token, media_url or sample, out)
        return
    if media_url is None:
        raise DemoError("Against a real API, pass --media-url: a public URL of an audio file.")
    await _round_trip(api_url, api_key, media_url, out)


async def _round_trip(api_url: str, api_key: str | None, media_url: str, out: TextIO) -> None:
    async with DescriptClient(api_key, base_url=api_url) as client:
        status = await client.get_status()
        out.write(f"Drive: {status.drive_name} ({status.drive_id}), API {status.api_version}\n\n")

        intro = tone_wav()
        created = await client.import_project_media(
            ImportMediaRequest(
                project_name="descript-mcp demo",
                add_media={
                    "interview.wav": UrlMedia(url=media_url),
                    "intro.wav": UploadMedia(content_type="audio/wav", file_size=len(intro)),
                },
                add_compositions=[
                    NewComposition(
                        name="Episode", clips=[Clip(media="intro.wav"), Clip(media="interview.wav")]
                    )
                ],
            )
        )
        out.write(f"1. Import started: job {created.job_id}\n   project {created.project_url}\n")
        await client.upload(created.upload_urls["intro.wav"].upload_url, intro, size=len(intro))
        out.write(f"   uploaded intro.wav ({len(intro)} bytes) to its signed URL\n")
        job = await _wait(client, created.job_id, out)
        if job.result is None or job.result.status == "error":
            raise DemoError(f"The import failed: {job.error_message}")
        for key, media in job.result.media_status.items():
            out.write(f"   {key}: {media.status}, {media.duration_seconds} s\n")

        agent = await client.agent_edit(
            AgentEditRequest(project_id=created.project_id, prompt=AGENT_PROMPT)
        )
        out.write(f"\n2. Agent edit started: job {agent.job_id} (model {agent.resolved_model})\n")
        job = await _wait(client, agent.job_id, out)
        if job.result is None or job.result.status != "success":
            raise DemoError(f"The agent edit failed: {job.error_message}")
        out.write(f"   Underlord: {job.result.agent_response}\n")
        out.write(f"   AI credits used: {job.result.ai_credits_used}\n")

        publish = await client.publish(PublishRequest(project_id=created.project_id))
        out.write(f"\n3. Publish started: job {publish.job_id}\n")
        job = await _wait(client, publish.job_id, out)
        if job.result is None or job.result.status != "success" or not job.result.download_url:
            raise DemoError(f"The publish failed: {job.error_message}")
        size = 0
        async for chunk in client.stream_download(job.result.download_url):
            size += len(chunk)
        out.write(
            f"   share page: {job.result.share_url}\n"
            f"   download:   {size} bytes of {job.result.media_type}, link valid until "
            f"{job.result.download_url_expires_at}\n\nRound trip complete.\n"
        )


async def _wait(client: DescriptClient, job_id: str, out: TextIO) -> Job:
    def show(update: ProgressUpdate) -> None:
        percent = f"{update.percent:3d}%" if update.percent is not None else "    "
        label = update.label or ""
        out.write(f"   [{update.elapsed:5.1f}s] {update.job_state:<9} {percent} {label}\n")
        out.flush()

    job = await wait_for_job(client, job_id, on_progress=show, max_wait=600)
    if not job.is_terminal:
        raise DemoError(f"Job {job_id} did not finish in 10 minutes; it is {job.job_state}.")
    return job
