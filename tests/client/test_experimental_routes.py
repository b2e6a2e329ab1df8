"""What Descript does not document, against the sandbox over real HTTP and ASGI: appending clips
to a composition on import, continuing an agent conversation, timeline export and import into
the drive's media library; each refusal live reports found; and recovery after an ambiguous
failure of the two undocumented job-creating routes."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from pydantic import ValidationError

from descript_mcp import (
    BadRequestError,
    DescriptClient,
    NotFoundError,
    UnconfirmedSubmissionError,
    UploadURLsLostError,
)
from descript_mcp.client.models import (
    Clip,
    CompositionUpdate,
    DriveImportJob,
    ExportTimelineRequest,
    FolderHit,
    ImportDriveMediaRequest,
    ImportMediaRequest,
    MediaHit,
    NewComposition,
    SequenceMedia,
    SequenceTrack,
    TimelineExportJob,
    UploadMedia,
    UrlMedia,
)
from descript_mcp.sandbox import DEFAULT_TOKEN, Fault, Sandbox, SandboxConfig
from descript_mcp.sandbox.media import synthesize_wav
from descript_mcp.sandbox.timelines import AAF_STAND_IN
from tests.client.test_contract import RecordingTransport
from tests.conftest import ASGI_BASE, post, wait
from tests.contract.check import Contract, load_contract

pytestmark = pytest.mark.anyio

TEAMMATE = "teammate-token"
TIMELINES = "/jobs/export/timeline"
DRIVE_IMPORTS = "/jobs/import/drive_media"


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    # Listing jobs of the undocumented kinds by type, as one live report saw it accepted.
    config = SandboxConfig.for_tests(lists_undocumented_job_types=True)
    config.drives[0].tokens = (DEFAULT_TOKEN, TEAMMATE)
    return config


def posts(sandbox: Sandbox, route: str) -> int:
    return len(sandbox.api_requests("POST", route))


# -- update_compositions ------------------------------------------------------------------


async def test_an_import_appends_clips_to_compositions_the_project_has(
    client: DescriptClient, sandbox: Sandbox, media_url: str, imported_project
) -> None:
    created = await imported_project()
    main = sandbox.world.projects[created.project_id].compositions[-1]
    more = await client.import_project_media(
        ImportMediaRequest(
            project_id=created.project_id,
            add_media={"guest.wav": UrlMedia(url=media_url)},
            update_compositions=[
                CompositionUpdate(
                    composition_id=main.short_id, append_clips=[Clip(media="guest.wav")]
                ),
                CompositionUpdate(
                    composition_id=f"{created.project_url}/{main.short_id}",
                    append_clips=[Clip(media="sample.wav", mute=True)],
                ),
            ],
        )
    )
    job = await wait(client, more.job_id)
    assert job.result is not None
    assert job.result.status == "success"
    assert main.clips == [("sample.wav", False), ("guest.wav", False), ("sample.wav", True)]
    project = await client.get_project(created.project_id)
    (listed,) = [c for c in project.compositions if c.id == main.id]
    assert listed.duration == pytest.approx(36.0)
    assert [c.name for c in project.compositions].count("Main") == 1  # appended, not created


async def test_appending_clips_is_refused_as_descript_refuses_it(
    client: DescriptClient, imported_project
) -> None:
    created = await imported_project()
    pid = created.project_id
    append = [CompositionUpdate(composition_id="zzzzz", append_clips=[Clip(media="sample.wav")])]
    with pytest.raises(BadRequestError) as no_project:
        await client.import_project_media(
            ImportMediaRequest(project_name="New", update_compositions=append)
        )
    assert no_project.value.message == '"update_compositions" missing required peer "project_id"'
    with pytest.raises(NotFoundError) as missing:
        await client.import_project_media(
            ImportMediaRequest(project_id=pid, update_compositions=append)
        )
    assert missing.value.message == f"No composition matching 'zzzzz' found in project {pid}"
    project = await client.get_project(pid)
    unknown = [
        CompositionUpdate(
            composition_id=project.compositions[-1].id, append_clips=[Clip(media="nope.wav")]
        )
    ]
    with pytest.raises(BadRequestError) as bad_media:
        await client.import_project_media(
            ImportMediaRequest(project_id=pid, update_compositions=unknown)
        )
    assert bad_media.value.message == (
        '"update_compositions[0].append_clips[0].media" refers to unknown media "nope.wav"'
    )
    with pytest.raises(ValidationError):
        CompositionUpdate(composition_id="abcde", append_clips=[])


async def test_an_empty_list_of_clips_to_append_gets_descripts_400(
    plain: httpx.AsyncClient, imported_project
) -> None:
    created = await imported_project()
    body = {
        "project_id": created.project_id,
        "update_compositions": [{"composition_id": "abcde", "append_clips": []}],
    }
    response = await post(plain, "jobs/import/project_media", body)
    assert response.status_code == 400
    assert response.json()["message"] == (
        '"update_compositions[0].append_clips" must contain at least 1 items'
    )


# -- timeline export ----------------------------------------------------------------------


def _root(content: bytes, tag: str, version: str) -> ET.Element:
    root = ET.fromstring(content)
    assert (root.tag, root.get("version")) == (tag, version)
    return root


@pytest.mark.parametrize(
    ("fmt", "extension", "content_type"),
    [
        ("edl", "edl", "text/plain"),
        ("sesx", "sesx", "application/xml"),
        ("fcp", "fcpxml", "application/xml"),
        ("premiere", "xml", "application/xml"),
        ("davinci_resolve", "xml", "application/xml"),
        ("aaf", "aaf", "application/octet-stream"),
    ],
)
async def test_a_timeline_export_makes_a_file_in_its_format_for_free(
    client: DescriptClient,
    sandbox: Sandbox,
    plain: httpx.AsyncClient,
    imported_project,
    fmt: str,
    extension: str,
    content_type: str,
) -> None:
    created = await imported_project()
    drive = sandbox.world.drives[sandbox.config.drives[0].id]
    balance = (drive.media_minutes, drive.ai_credits)
    export = await client.export_timeline(
        ExportTimelineRequest(project_id=created.project_id, format=fmt)  # type: ignore[arg-type]
    )
    assert export.job_id.startswith("project-timeline-export-")
    assert (export.format, export.project_id) == (fmt, created.project_id)
    job = await wait(client, export.job_id)
    assert isinstance(job, TimelineExportJob)
    assert job.project_id == created.project_id
    result = job.result
    assert result is not None
    assert result.status == "success"
    assert result.file_name == f"Main.{extension}"
    assert result.content_type == content_type
    assert result.composition_id == sandbox.world.projects[created.project_id].compositions[-1].id
    assert result.download_url
    assert result.download_url_expires_at is not None
    lifetime = result.download_url_expires_at - job.created_at
    assert abs(lifetime - timedelta(hours=24)) < timedelta(minutes=1)  # as live ones last
    assert (drive.media_minutes, drive.ai_credits) == balance

    content = b"".join([c async for c in client.signed.stream_download(result.download_url)])
    fetched = await plain.get(result.download_url)  # no Authorization header
    assert fetched.status_code == 200
    assert fetched.content == content
    assert fetched.headers["content-type"].startswith(content_type)
    assert f'filename="{result.file_name}"' in fetched.headers["content-disposition"]
    if fmt == "edl":
        assert content.startswith(b"Samplitude EDL File Format Version 1.5\n")
        assert b'"sample.wav"' in content
    elif fmt == "sesx":
        clip = _root(content, "sesx", "1.9").find("session/tracks/audioTrack/audioClip")
        assert clip is not None
        assert (clip.get("name"), clip.get("endPoint")) == ("sample.wav", str(12 * 48_000))
    elif fmt == "fcp":
        clip = _root(content, "fcpxml", "1.8").find(".//spine/asset-clip")
        assert clip is not None
        assert (clip.get("name"), clip.get("duration")) == ("sample.wav", "360/30s")
    elif fmt == "aaf":
        assert content.startswith(AAF_STAND_IN)
        assert "sample.wav".encode("utf-16-le") in content
    else:
        root = _root(content, "xmeml", "4")
        assert root.findtext("sequence/duration") == "360"
        assert root.findtext(".//audio/track/clipitem/file/pathurl") == "sample.wav"


async def test_a_timeline_shows_mutes_and_takes_each_formats_options(
    client: DescriptClient, sandbox: Sandbox, media_url: str
) -> None:
    # One clip muted alone: a sequence's (muting any other clip mutes the script layer).
    created = await client.import_project_media(
        ImportMediaRequest(
            project_name="Options",
            add_media={
                "host.wav": UrlMedia(url=media_url),
                "guest.wav": UrlMedia(url=media_url),
                "Guest": SequenceMedia(tracks=[SequenceTrack(media="guest.wav")]),
            },
            add_compositions=[
                NewComposition(
                    name="Main Cut",
                    clips=[Clip(media="host.wav"), Clip(media="Guest", mute=True)],
                )
            ],
        )
    )
    await wait(client, created.job_id)

    async def export(**options: object) -> bytes:
        export = await client.export_timeline(
            ExportTimelineRequest(project_id=created.project_id, **options)  # type: ignore[arg-type]
        )
        job = await wait(client, export.job_id)
        assert job.result is not None
        url = job.result.download_url  # type: ignore[union-attr]
        assert url
        return b"".join([c async for c in client.signed.stream_download(url)])

    edl = (await export(format="edl")).decode().splitlines()
    events = [line for line in edl if line.endswith('"Guest"') and len(line.split()) > 2]
    assert [line.split()[7] for line in events] == ["1"]  # MT: the clip is muted
    tracks = _root(await export(format="sesx", create_track_per_file=True), "sesx", "1.9")
    assert [t.findtext("trackParameters/name") for t in tracks.iter("audioTrack")] == [
        "host.wav",
        "Guest",
    ]
    xmeml = _root(await export(format="premiere", snap_frame_rates=False), "xmeml", "4")
    enabled = [item.findtext("enabled") for item in xmeml.iter("clipitem")]
    assert enabled == ["TRUE", "FALSE"]
    aaf = await export(format="aaf", strip_spaces=True)
    assert "MainCut".encode("utf-16-le") in aaf
    assert "Main Cut".encode("utf-16-le") not in aaf
    name_length = struct.unpack("<H", aaf[len(AAF_STAND_IN) : len(AAF_STAND_IN) + 2])[0]
    assert name_length == len("MainCut") * 2
    exports = [job async for job in client.list_jobs(type="export/timeline")]
    assert len(exports) == 4
    assert all(isinstance(job, TimelineExportJob) for job in exports)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"format": "fcp", "create_track_per_file": True}, "not allowed for format fcp"),
        ({"format": "edl", "snap_frame_rates": False}, "false only for premiere"),
        ({"format": "sesx", "strip_spaces": True}, "allowed only for format aaf"),
    ],
)
async def test_a_timeline_option_a_format_has_not_is_refused(
    client: DescriptClient, imported_project, options: dict[str, object], message: str
) -> None:
    created = await imported_project()
    with pytest.raises(BadRequestError, match=message):
        await client.export_timeline(
            ExportTimelineRequest(project_id=created.project_id, **options)  # type: ignore[arg-type]
        )


async def test_a_timeline_export_needs_a_composition_with_content(
    client: DescriptClient, plain: httpx.AsyncClient, sandbox: Sandbox, imported_project
) -> None:
    created = await imported_project()
    with pytest.raises(NotFoundError) as missing:
        await client.export_timeline(
            ExportTimelineRequest(project_id=created.project_id, format="edl", composition_id="zz")
        )
    assert missing.value.message == (
        f"No composition matching 'zz' found in project {created.project_id}"
    )
    empty = await client.import_project_media(ImportMediaRequest(project_name="Empty"))
    await wait(client, empty.job_id)
    with pytest.raises(BadRequestError, match="has content to export"):
        await client.export_timeline(
            ExportTimelineRequest(project_id=empty.project_id, format="edl")
        )
    body = {"project_id": created.project_id, "format": "mp4", "drive_id": "d"}
    response = await post(plain, "jobs/export/timeline", body)
    assert response.status_code == 400
    assert response.json()["message"] == '"drive_id" is not allowed'
    assert [d["message"] for d in response.json()["details"]][-1] == (
        '"format" must be one of [edl, sesx, fcp, premiere, davinci_resolve, aaf]'
    )
    assert not [job for job in sandbox.world.jobs.values() if job.type == "export/timeline"]


# -- drive media import -------------------------------------------------------------------


async def test_a_drive_import_fills_the_media_library_with_folders_and_spends_minutes(
    client: DescriptClient, sandbox: Sandbox, media_url: str
) -> None:
    drive = sandbox.world.drives[sandbox.config.drives[0].id]
    minutes = drive.media_minutes
    audio = synthesize_wav(3.0)
    created = await client.import_drive_media(
        ImportDriveMediaRequest(
            add_media={
                "Music/Themes/theme.wav": UrlMedia(url=media_url),
                "voice.wav": UploadMedia(content_type="audio/wav", file_size=len(audio)),
            }
        )
    )
    assert created.job_id.startswith("drive-media-import-")
    assert "project_id" not in created.model_dump()
    await client.signed.upload(created.upload_urls["voice.wav"].upload_url, audio, size=len(audio))
    job = await wait(client, created.job_id)
    assert isinstance(job, DriveImportJob)
    assert (job.project_id, job.project_url) == (None, None)
    assert job.result is not None
    assert job.result.status == "success"
    assert job.result.media_status["Music/Themes/theme.wav"].duration_seconds == pytest.approx(12)
    assert job.result.media_status["voice.wav"].duration_seconds == pytest.approx(3)
    assert job.result.media_seconds_used == 15
    assert drive.media_minutes == pytest.approx(minutes - 15 / 60)
    assert sorted(drive.library) == ["Music/Themes/theme.wav", "voice.wav"]

    (theme,) = await client.search("theme", types=["audio"])
    assert isinstance(theme, MediaHit)
    assert (theme.name, theme.location, theme.project_id) == ("theme.wav", "media_library", None)
    assert theme.duration == pytest.approx(12)
    folders = await client.search("m", types=["media_library_folder"])
    assert sorted(h.name for h in folders if isinstance(h, FolderHit)) == ["Music", "Themes"]
    (themes,) = [h for h in folders if isinstance(h, FolderHit) and h.name == "Themes"]
    assert themes.location == "media_library"

    into = await client.import_drive_media(
        ImportDriveMediaRequest(
            add_media={"jingle.wav": UrlMedia(url=media_url)}, folder_id=themes.folder_id
        )
    )
    await wait(client, into.job_id)
    assert "Music/Themes/jingle.wav" in drive.library
    assert [h.name for h in await client.search("jingle", types=["audio"])] == ["jingle.wav"]
    drive_imports = [job.job_id async for job in client.list_jobs(type="import/drive_media")]
    assert drive_imports == [into.job_id, created.job_id]


async def test_a_drive_import_is_refused_as_descript_refuses_it(
    client: DescriptClient, plain: httpx.AsyncClient, sandbox: Sandbox, media_url: str
) -> None:
    url = {"url": media_url}
    for body, message in [
        ({"add_media": {"a.wav": url}, "drive_id": "d"}, '"drive_id" is not allowed'),
        (
            {"add_media": {"Both": {"tracks": [{"media": "a.wav"}]}}},
            '"add_media.Both" must match exactly one of [URL Import, Direct Upload]',
        ),
        ({"add_media": {"a.wav": url}, "folder_id": "x"}, '"folder_id" must be a valid GUID'),
        ({}, '"add_media" is required'),
    ]:
        response = await post(plain, "jobs/import/drive_media", body)
        assert (response.status_code, response.json()["message"]) == (400, message)
    with pytest.raises(NotFoundError, match="Media library folder"):
        await client.import_drive_media(
            ImportDriveMediaRequest(
                add_media={"a.wav": UrlMedia(url=media_url)},
                folder_id="9f36ee32-5a2c-47e7-b1a3-94991d3e3ddb",
            )
        )
    # More than three files: a bare 500 and nothing imported; the client never sends them.
    four = {f"{n}.wav": url for n in range(4)}
    response = await post(plain, "jobs/import/drive_media", {"add_media": four})
    assert response.status_code == 500
    with pytest.raises(ValidationError, match="send them in threes"):
        ImportDriveMediaRequest(add_media={k: UrlMedia(url=media_url) for k in four})
    assert not [job for job in sandbox.world.jobs.values() if job.type == "import/drive_media"]
    assert posts(sandbox, DRIVE_IMPORTS) == 6
    # A name the library has already.
    first = await client.import_drive_media(
        ImportDriveMediaRequest(add_media={"a.wav": UrlMedia(url=media_url)})
    )
    await wait(client, first.job_id)
    with pytest.raises(BadRequestError, match="conflicts with existing files"):
        await client.import_drive_media(
            ImportDriveMediaRequest(add_media={"a.wav": UrlMedia(url=media_url)})
        )


async def test_the_undocumented_routes_answer_in_the_shape_the_reference_gives(
    sandbox: Sandbox, api_url: str, media_url: str, imported_project
) -> None:
    """Their requests and answers, and the jobs they make, against the contract built from
    Descript's reference (which carries both routes and both job shapes)."""
    created = await imported_project()
    inner = (
        httpx.ASGITransport(app=sandbox.app)
        if api_url.startswith(ASGI_BASE)
        else httpx.AsyncHTTPTransport()
    )
    recorder = RecordingTransport(inner)
    async with DescriptClient(sandbox.token, base_url=api_url, transport=recorder) as client:
        export = await client.export_timeline(
            ExportTimelineRequest(
                project_id=created.project_id,
                format="davinci_resolve",
                include_markers=True,
                snap_frame_rates=False,
                callback_url="http://127.0.0.1:9/unused",
            )
        )
        await wait(client, export.job_id)
        audio = synthesize_wav(1.0)
        library = await client.import_drive_media(
            ImportDriveMediaRequest(
                add_media={
                    "Clips/a.wav": UrlMedia(url=media_url, language="en"),
                    "b.wav": UploadMedia(content_type="audio/wav", file_size=len(audio)),
                }
            )
        )
        await client.signed.upload(library.upload_urls["b.wav"].upload_url, audio, size=len(audio))
        await wait(client, library.job_id)
        with pytest.raises(BadRequestError):
            await client.export_timeline(
                ExportTimelineRequest(
                    project_id=created.project_id, format="sesx", strip_spaces=True
                )
            )
    contract = Contract(load_contract())
    paths = (TIMELINES, DRIVE_IMPORTS, f"/jobs/{export.job_id}", f"/jobs/{library.job_id}")
    checked = [e for e in recorder.exchanges if e.path in paths]
    for exchange in checked:
        contract.check(exchange)
    assert {(e.path, e.status) for e in checked} == {
        (TIMELINES, 201),
        (TIMELINES, 400),
        (DRIVE_IMPORTS, 201),
        (f"/jobs/{export.job_id}", 200),
        (f"/jobs/{library.job_id}", 200),
    }


# -- recovery after an ambiguous failure --------------------------------------------------


async def test_a_timeline_export_whose_answer_was_lost_is_found_with_its_format(
    client: DescriptClient, sandbox: Sandbox, imported_project
) -> None:
    created = await imported_project()
    sandbox.faults.add(Fault("POST", TIMELINES, status=502, when="after"))
    export = await client.export_timeline(
        ExportTimelineRequest(project_id=created.project_id, format="sesx")
    )
    (made,) = [j for j in sandbox.world.jobs.values() if j.type == "export/timeline"]
    assert export.job_id == made.id
    assert (export.format, export.project_id, export.project_url) == (
        "sesx",
        created.project_id,
        made.project_url,
    )
    sandbox.faults.add(Fault("POST", TIMELINES, status=502, when="before"))
    with pytest.raises(UnconfirmedSubmissionError, match="no new job appeared"):
        await client.export_timeline(
            ExportTimelineRequest(project_id=created.project_id, format="edl")
        )
    assert posts(sandbox, TIMELINES) == 2


async def test_a_drive_import_whose_answer_was_lost_is_found_on_the_drive(
    client: DescriptClient, sandbox: Sandbox, media_url: str
) -> None:
    sandbox.faults.add(Fault("POST", DRIVE_IMPORTS, status=502, when="after"))
    created = await client.import_drive_media(
        ImportDriveMediaRequest(add_media={"a.wav": UrlMedia(url=media_url)})
    )
    (made,) = [j for j in sandbox.world.jobs.values() if j.type == "import/drive_media"]
    assert created.job_id == made.id
    assert created.drive_id == made.drive_id
    assert "project_id" not in created.model_dump()
    await wait(client, created.job_id)

    # Its upload URLs lost, a proven import can never get its files: it is cancelled.
    sandbox.faults.add(Fault("POST", DRIVE_IMPORTS, status=500, when="after"))
    with pytest.raises(UploadURLsLostError) as lost:
        await client.import_drive_media(
            ImportDriveMediaRequest(
                add_media={"b.wav": UploadMedia(content_type="audio/wav", file_size=10)}
            )
        )
    assert lost.value.cancelled
    assert sandbox.world.jobs[lost.value.job.job_id].state == "cancelled"
    assert posts(sandbox, DRIVE_IMPORTS) == 2


async def test_a_lone_drive_import_is_not_claimed_when_a_teammate_imports_there_too(
    client: DescriptClient,
    make_client: Callable[..., DescriptClient],
    sandbox: Sandbox,
    media_url: str,
) -> None:
    """A teammate imported into the library moments before: the one job in the window could
    be theirs as well as ours, so it is named, not claimed."""
    async with make_client(TEAMMATE) as teammate:
        theirs = await teammate.import_drive_media(
            ImportDriveMediaRequest(add_media={"t.wav": UrlMedia(url=media_url)})
        )
    sandbox.world.jobs[theirs.job_id].created_at -= timedelta(seconds=2.2)
    sandbox.faults.add(Fault("POST", DRIVE_IMPORTS, status=502, when="after", token=DEFAULT_TOKEN))
    with pytest.raises(UnconfirmedSubmissionError) as caught:
        await client.import_drive_media(
            ImportDriveMediaRequest(add_media={"m.wav": UrlMedia(url=media_url)})
        )
    (ours,) = [
        j.id
        for j in sandbox.world.jobs.values()
        if j.type == "import/drive_media" and j.token == DEFAULT_TOKEN
    ]
    assert caught.value.candidates == [ours]
    assert "another client started 1 job(s) of this kind on this drive" in str(caught.value)
    assert "Do not submit it again" in str(caught.value)
    assert sandbox.api_requests("DELETE") == []
