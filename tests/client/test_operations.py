"""Every documented operation of the client against the sandbox, over real HTTP and ASGI."""

from __future__ import annotations

import io
import wave
import zipfile
from collections.abc import Callable

import httpx
import pytest

from descript_mcp import BadRequestError, DescriptClient, NotFoundError
from descript_mcp.client.models import (
    AgentEditRequest,
    AgentJob,
    Clip,
    ExportTranscriptRequest,
    FolderHit,
    ImportJob,
    ImportMediaRequest,
    MediaHit,
    NewComposition,
    ProjectHit,
    PublishJob,
    PublishRequest,
    SequenceMedia,
    SequenceTrack,
    Timecodes,
    UploadMedia,
    UrlMedia,
)
from descript_mcp.sandbox import OTHER_DRIVE_TOKEN, Sandbox
from descript_mcp.sandbox.media import synthesize_wav
from tests.conftest import post, wait

pytestmark = pytest.mark.anyio


async def test_status_names_the_tokens_drive(client: DescriptClient, sandbox: Sandbox) -> None:
    status = await client.get_status()
    drive = sandbox.config.drives[0]
    assert (status.drive_id, status.drive_name, status.api_version) == (drive.id, drive.name, "1.2")


async def test_agent_models_lists_models_and_aliases(client: DescriptClient) -> None:
    models = await client.list_agent_models()
    assert "auto" in [m.id for m in models.available_models]
    opus = next(a for a in models.aliases if a.id == "claude-opus")
    assert opus.resolves_to == "claude-opus-5.5"
    assert opus.cost == "high"


async def test_url_import_creates_project_with_media_and_composition(
    client: DescriptClient, media_url: str
) -> None:
    created = await client.import_project_media(
        ImportMediaRequest(
            project_name="Interview",
            folder_name="Clients/Acme",
            team_access="view",
            add_media={"talk.wav": UrlMedia(url=media_url, language="en")},
            add_compositions=[
                NewComposition(name="Cut", width=1280, height=720, clips=[Clip(media="talk.wav")])
            ],
        )
    )
    assert created.job_id.startswith("project-media-import-")
    assert created.upload_urls == {}
    job = await wait(client, created.job_id)
    assert isinstance(job, ImportJob)
    assert job.job_state == "stopped"
    assert job.result is not None
    assert job.result.status == "success"
    assert job.result.media_status["talk.wav"].duration_seconds == pytest.approx(12.0)
    assert job.result.media_seconds_used == 12
    assert [c.name for c in job.result.created_compositions] == ["Cut"]

    project = await client.get_project(created.project_id)
    assert project.name == "Interview"
    assert project.folder_path == "Clients/Acme"
    assert project.media_files["talk.wav"].type == "audio"
    cut = next(c for c in project.compositions if c.name == "Cut")
    assert cut.duration == pytest.approx(12.0)
    assert cut.media_type == "audio"


async def test_direct_upload_import_reads_the_uploaded_files_duration(
    client: DescriptClient,
) -> None:
    audio = synthesize_wav(4.5)
    created = await client.import_project_media(
        ImportMediaRequest(
            project_name="Uploaded",
            add_media={"voice.wav": UploadMedia(content_type="audio/wav", file_size=len(audio))},
        )
    )
    target = created.upload_urls["voice.wav"]
    assert target.asset_id
    assert target.artifact_id

    async def chunks():
        for start in range(0, len(audio), 8192):
            yield audio[start : start + 8192]

    await client.signed.upload(target.upload_url, chunks(), size=len(audio))
    job = await wait(client, created.job_id)
    assert job.result is not None
    assert job.result.status == "success"
    assert job.result.media_status["voice.wav"].duration_seconds == pytest.approx(4.5)


async def test_multitrack_sequence_and_import_into_existing_project(
    client: DescriptClient, media_url: str, imported_project
) -> None:
    created = await imported_project()
    more = await client.import_project_media(
        ImportMediaRequest(
            project_id=created.project_id,
            add_media={
                "guest.wav": UrlMedia(url=media_url),
                "Sequences/Both": SequenceMedia(
                    tracks=[
                        SequenceTrack(media="sample.wav"),
                        SequenceTrack(media="guest.wav", offset=2.5, mute=True),
                    ]
                ),
            },
            add_compositions=[NewComposition(name="Both", clips=[Clip(media="Sequences/Both")])],
        )
    )
    assert more.project_id == created.project_id
    job = await wait(client, more.job_id)
    assert job.result is not None
    assert job.result.status == "success"
    assert job.result.media_status["Sequences/Both"].duration_seconds == pytest.approx(14.5)
    project = await client.get_project(created.project_id)
    assert project.media_files["Sequences/Both"].type == "sequence"
    assert set(project.media_files) == {"sample.wav", "guest.wav", "Sequences/Both"}


async def test_agent_edits_a_project_and_reports_credits(
    client: DescriptClient, imported_project
) -> None:
    created = await imported_project()
    project = await client.get_project(created.project_id)
    main = next(c for c in project.compositions if c.name == "Main")
    agent = await client.agent_edit(
        AgentEditRequest(
            project_id=created.project_id,
            composition_id=main.id[:5],
            model="claude-opus",
            prompt="Remove filler words and add captions",
        )
    )
    assert agent.resolved_model == "claude-opus-5.5"
    assert agent.conversation_id
    assert agent.project_url.endswith("/" + main.id[:5])
    job = await wait(client, agent.job_id)
    assert isinstance(job, AgentJob)
    assert job.result is not None
    assert job.result.status == "success"
    assert job.result.project_changed is True
    assert "filler" in (job.result.agent_response or "")
    # Live Descript reports fractional credits although the spec says integer.
    assert isinstance(job.result.ai_credits_used, float)
    assert job.result.ai_credits_used > 0


async def test_agent_creates_a_new_project_from_a_prompt(client: DescriptClient) -> None:
    agent = await client.agent_edit(
        AgentEditRequest(project_name="From a prompt", prompt="Make a short intro video")
    )
    job = await wait(client, agent.job_id)
    assert job.result is not None
    assert job.result.status == "success"
    project = await client.get_project(agent.project_id)
    assert project.name == "From a prompt"
    assert any(c.duration for c in project.compositions)


async def test_agent_on_an_empty_project_stops_with_an_error_result(
    client: DescriptClient,
) -> None:
    empty = await client.import_project_media(ImportMediaRequest(project_name="Empty"))
    await wait(client, empty.job_id)
    agent = await client.agent_edit(
        AgentEditRequest(project_id=empty.project_id, prompt="Add captions")
    )
    job = await wait(client, agent.job_id)
    assert job.result is not None
    assert job.result.status == "error"
    assert job.result.error_code == "agent_execution_failed"


async def test_publish_renders_a_real_file_and_reuses_the_share_url(
    client: DescriptClient, imported_project
) -> None:
    created = await imported_project()
    first = await client.publish(
        PublishRequest(project_id=created.project_id, access_level="unlisted")
    )
    job = await wait(client, first.job_id)
    assert isinstance(job, PublishJob)
    assert job.result is not None
    result = job.result
    assert result.status == "success"
    assert result.media_type == "Audio"
    assert result.share_url
    assert result.download_url
    assert result.download_url_expires_at
    audio = b"".join([chunk async for chunk in client.signed.stream_download(result.download_url)])
    with wave.open(io.BytesIO(audio)) as rendered:
        assert rendered.getnframes() / rendered.getframerate() == pytest.approx(12.0)

    again = await client.publish(PublishRequest(project_id=created.project_id, media_type="Audio"))
    second = await wait(client, again.job_id)
    assert second.result is not None
    assert second.result.share_url == result.share_url
    project = await client.get_project(created.project_id)
    assert [p.share_url for p in project.publishes] == [result.share_url]


async def test_published_project_metadata_has_subtitles_and_a_fresh_link(
    client: DescriptClient, imported_project
) -> None:
    created = await imported_project()
    job = await wait(
        client, (await client.publish(PublishRequest(project_id=created.project_id))).job_id
    )
    assert job.result is not None
    assert job.result.share_url
    published = await client.get_published_project(job.result.share_url)
    assert published.project_id == created.project_id
    assert published.publish_type == "audio"
    assert published.metadata.duration_formatted == "00:00:12"
    assert published.subtitles.startswith("WEBVTT")
    assert published.download_url


async def test_cancel_stops_a_running_job(
    client: DescriptClient, sandbox: Sandbox, media_url: str
) -> None:
    sandbox.config.timings.import_item = 30.0
    created = await client.import_project_media(
        ImportMediaRequest(project_name="Long", add_media={"long.wav": UrlMedia(url=media_url)})
    )
    await client.cancel_job(created.job_id)
    job = await client.get_job(created.job_id)
    assert job.job_state == "cancelled"
    assert job.stopped_at is not None
    assert job.result is None


async def test_list_jobs_follows_cursors_and_filters(
    client: DescriptClient, imported_project
) -> None:
    first = await imported_project("One")
    second = await imported_project("Two")
    agent = await client.agent_edit(
        AgentEditRequest(project_id=second.project_id, prompt="Add captions")
    )
    page = await client.list_jobs_page(limit=2)
    assert len(page.items) == 2
    assert page.next_cursor
    everything = [job.job_id async for job in client.list_jobs(limit=1)]
    assert everything == [agent.job_id, second.job_id, first.job_id]
    imports = [job.job_id async for job in client.list_jobs(type="import/project_media")]
    assert imports == [second.job_id, first.job_id]
    of_second = [job.job_id async for job in client.list_jobs(project_id=second.project_id)]
    assert of_second == [agent.job_id, second.job_id]


async def test_list_projects_filters_sorts_and_pages(
    client: DescriptClient, imported_project
) -> None:
    for name in ("Beta", "alpha", "Gamma"):
        await imported_project(name, folder_name="Shows" if name != "Gamma" else "Other")
    by_name = [p.name async for p in client.list_projects(sort="name", direction="asc", limit=1)]
    assert by_name == sorted(by_name)
    assert len(by_name) == 3
    assert [p.name async for p in client.list_projects(name="ALP")] == ["alpha"]
    shows = {p.name async for p in client.list_projects(folder_path="Shows", created_by="me")}
    assert shows == {"Beta", "alpha"}


async def test_search_finds_projects_media_folders_and_spoken_words(
    client: DescriptClient, imported_project
) -> None:
    created = await imported_project("Weekly Podcast", folder_name="Shows/Weekly")
    by_name = await client.search("podcast", types=["project"])
    assert [h.project_id for h in by_name if isinstance(h, ProjectHit)] == [created.project_id]
    media = await client.search("sample", types=["audio"])
    assert isinstance(media[0], MediaHit)
    assert media[0].duration == pytest.approx(12.0)
    folders = await client.search("weekly", types=["project_folder"])
    assert [h.name for h in folders if isinstance(h, FolderHit)] == ["Weekly"]
    spoken = await client.search("professional", match=["content"])
    assert [h.project_id for h in spoken if isinstance(h, ProjectHit)] == [created.project_id]


@pytest.mark.parametrize(
    ("fmt", "content_type", "marker"),
    [
        ("txt", "text/plain", b"Host: "),
        ("markdown", "text/markdown", b"# Main"),
        ("html", "text/html", b"<p>"),
        ("rtf", "application/rtf", rb"{\rtf1"),
        ("srt", "application/x-subrip", b"00:00:00,000 --> "),
    ],
)
async def test_export_transcript_in_each_text_format(
    client: DescriptClient, imported_project, fmt: str, content_type: str, marker: bytes
) -> None:
    created = await imported_project()
    exported = await client.export_transcript(
        ExportTranscriptRequest(
            project_id=created.project_id,
            format=fmt,  # type: ignore[arg-type]
            composition_id=await _main(client, created.project_id),
        )
    )
    assert exported.content_type.startswith(content_type)
    assert marker in exported.content
    assert exported.is_text
    assert exported.filename is not None
    assert exported.filename.startswith("transcript.")
    assert exported.composition_id


async def test_export_transcript_as_docx_with_timecodes(
    client: DescriptClient, imported_project
) -> None:
    created = await imported_project()
    exported = await client.export_transcript(
        ExportTranscriptRequest(
            project_id=created.project_id,
            composition_id=await _main(client, created.project_id),
            format="docx",
            include_speaker_labels="every_paragraph",
            timecodes=Timecodes(on_paragraphs=True),
        )
    )
    assert not exported.is_text
    document = zipfile.ZipFile(io.BytesIO(exported.content)).read("word/document.xml").decode()
    assert "[00:00:03] Host: " in document or "[00:00:03] Guest: " in document


async def _main(client: DescriptClient, project_id: str) -> str:
    """The composition "Main" that `imported_project` made. Named, as the spec advises: without
    one, a transcript is of the project's first composition, an empty placeholder."""
    project = await client.get_project(project_id)
    return next(c.id for c in project.compositions if c.name == "Main")


async def test_a_conversation_continues_in_its_project_only(
    client: DescriptClient,
    make_client: Callable[..., DescriptClient],
    plain: httpx.AsyncClient,
    media_url: str,
    imported_project,
) -> None:
    """The spec: `conversation_id` is "always returned on POST"; "Pass it back on your next
    call, with the same `project_id` … Requires `project_id`"; another project's is a 400
    "Conversation <id> belongs to a different project", an unknown one a 404 "Conversation
    <id> not found"; a resumed conversation's `resolved_model` is "inherited" (it keeps its
    model). It goes on across the compositions of its project."""
    created = await imported_project()
    pid = created.project_id
    first = await client.agent_edit(AgentEditRequest(project_id=pid, prompt="Studio sound"))
    assert first.conversation_id
    assert first.resolved_model == "auto"
    await wait(client, first.job_id)
    other_composition = await client.import_project_media(
        ImportMediaRequest(
            project_id=pid,
            add_compositions=[NewComposition(name="Short", clips=[Clip(media="sample.wav")])],
        )
    )
    imported = await wait(client, other_composition.job_id)
    assert isinstance(imported, ImportJob)
    assert imported.result is not None
    short = imported.result.created_compositions[0].id
    again = await client.agent_edit(
        AgentEditRequest(
            project_id=pid,
            composition_id=short,
            prompt="Add captions",
            conversation_id=first.conversation_id,
        )
    )
    assert (again.conversation_id, again.resolved_model) == (first.conversation_id, "inherited")
    job = await wait(client, again.job_id)
    assert isinstance(job, AgentJob)
    assert job.result is not None
    assert (job.result.conversation_id, job.result.resolved_model) == (
        first.conversation_id,
        "inherited",
    )

    elsewhere = await imported_project("Elsewhere")
    with pytest.raises(BadRequestError) as refused:
        await client.agent_edit(
            AgentEditRequest(
                project_id=elsewhere.project_id, prompt="x", conversation_id=first.conversation_id
            )
        )
    assert (
        refused.value.message
        == f"Conversation {first.conversation_id} belongs to a different project"
    )
    unknown = "9f36ee32-5a2c-47e7-b1a3-94991d3e3ddb"
    with pytest.raises(NotFoundError) as missing:
        await client.agent_edit(
            AgentEditRequest(project_id=pid, prompt="x", conversation_id=unknown)
        )
    assert missing.value.message == f"Conversation {unknown} not found"
    # Bodies the client's own checks refuse before sending, as Descript answers them.
    for body, message in (
        (
            {"project_id": pid, "prompt": "x", "conversation_id": "c1"},
            '"conversation_id" must be a valid GUID',
        ),
        (
            {"project_name": "New", "prompt": "x", "conversation_id": first.conversation_id},
            '"conversation_id" missing required peer "project_id"',
        ),
    ):
        answer = await post(plain, "jobs/agent", body)
        assert (answer.status_code, answer.json()["message"]) == (400, message)
    # Another drive's conversation is not found from this one, even on a project of its own.
    async with make_client(OTHER_DRIVE_TOKEN) as other:
        theirs = await other.import_project_media(
            ImportMediaRequest(project_name="Theirs", add_media={"s.wav": UrlMedia(url=media_url)})
        )
        await wait(other, theirs.job_id)
        with pytest.raises(NotFoundError):
            await other.agent_edit(
                AgentEditRequest(
                    project_id=theirs.project_id,
                    prompt="x",
                    conversation_id=first.conversation_id,
                )
            )
