"""Local files: share links, confinement to roots, streamed uploads and resumable downloads."""

from __future__ import annotations

import io
import os
import struct
import sys
import tracemalloc
import wave
from pathlib import Path

import httpx
import pytest

from descript_mcp import DescriptClient
from descript_mcp.client.models import ImportMediaRequest, PublishRequest, UploadMedia
from descript_mcp.errors import LocalFileError
from descript_mcp.files.local import ReadableFile, SavePlace
from descript_mcp.files.roots import Roots, root_from_uri
from descript_mcp.files.sharelinks import ShareLinkError, direct_download_url
from descript_mcp.files.transfer import content_type_of, download_file, upload_file, write_file
from descript_mcp.sandbox import Sandbox
from tests.conftest import wait


@pytest.mark.parametrize(
    ("link", "direct"),
    [
        (
            "https://drive.google.com/file/d/1AbCdEfGhIjKlMnOp/view?usp=sharing",
            "https://drive.google.com/uc?export=download&id=1AbCdEfGhIjKlMnOp",
        ),
        (
            "https://drive.google.com/file/d/1AbCdEfGhIjKlMnOp/view",
            "https://drive.google.com/uc?export=download&id=1AbCdEfGhIjKlMnOp",
        ),
        (
            "https://drive.google.com/open?id=1AbCdEfGhIjKlMnOp",
            "https://drive.google.com/uc?export=download&id=1AbCdEfGhIjKlMnOp",
        ),
        (
            "https://drive.google.com/uc?id=1AbCdEfGhIjKlMnOp&export=download",
            "https://drive.google.com/uc?export=download&id=1AbCdEfGhIjKlMnOp",
        ),
        (
            "https://www.dropbox.com/scl/fi/abc123/talk.mp4?rlkey=xyz&dl=0",
            "https://www.dropbox.com/scl/fi/abc123/talk.mp4?rlkey=xyz&dl=1",
        ),
        (
            "https://www.dropbox.com/s/abc123/talk.mp4?dl=0",
            "https://www.dropbox.com/s/abc123/talk.mp4?dl=1",
        ),
        ("https://dropbox.com/s/abc123/talk.mp4", "https://www.dropbox.com/s/abc123/talk.mp4?dl=1"),
        (
            "https://www.dropbox.com/scl/fi/abc/t.mp4?rlkey=k&raw=1",
            "https://www.dropbox.com/scl/fi/abc/t.mp4?rlkey=k&dl=1",
        ),
        ("https://cdn.example.com/talk.mp4?sig=1", "https://cdn.example.com/talk.mp4?sig=1"),
    ],
)
def test_share_links_become_direct_downloads(link: str, direct: str) -> None:
    assert direct_download_url(link) == direct


@pytest.mark.parametrize(
    ("link", "says"),
    [
        ("https://drive.google.com/drive/folders/1AbCdEf", "folder"),
        ("https://docs.google.com/document/d/1AbCdEf/edit", "Google Docs file"),
        ("https://drive.google.com/drive/my-drive", 'shared as "Anyone with the link"'),
        ("https://www.dropbox.com/scl/fo/abc/folder?rlkey=x", "Dropbox folder"),
        ("https://www.dropbox.com/sh/abc/def?dl=0", "Dropbox folder"),
        ("https://www.dropbox.com/home/Videos", 'shared as "Anyone with the link"'),
    ],
)
def test_links_that_cannot_be_converted_say_why(link: str, says: str) -> None:
    with pytest.raises(ShareLinkError, match=says):
        direct_download_url(link)


def test_media_types_come_from_the_extension() -> None:
    assert content_type_of("interview.MP4") == "video/mp4"
    assert content_type_of("Music/theme.m4a") == "audio/mp4"
    assert content_type_of("notes") == "application/octet-stream"


@pytest.fixture(params=["descriptors", "resolved names"])
def walk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways to open below a root: descriptors walked without following links (POSIX),
    and resolved names checked again after opening (where the platform has no dir_fd)."""
    monkeypatch.setattr("descript_mcp.files.local.SAFE_WALK", request.param == "descriptors")
    return request.param


@pytest.fixture
def tree(tmp_path: Path, walk: str) -> dict[str, Path]:
    """A root with a file, a folder, links out of it, and a secret beside it."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "talk.wav").write_bytes(b"RIFF")
    (outside / "secret.wav").write_bytes(b"secret")
    (root / "link.wav").symlink_to(outside / "secret.wav")
    (root / "linked-folder").symlink_to(outside)
    (root / "inner-link.wav").symlink_to(root / "talk.wav")
    os.mkfifo(root / "pipe.wav")
    return {"root": root, "outside": outside}


@pytest.mark.parametrize(
    ("relative", "says"),
    [
        ("../outside/secret.wav", "outside the folders"),
        ("sub/../../outside/secret.wav", "outside the folders"),
        ("link.wav", "outside the folders"),
        ("linked-folder/secret.wav", "outside the folders"),
        ("sub", "is a folder"),
        ("missing.wav", "does not exist"),
        ("pipe.wav", "not a regular file"),
    ],
)
def test_every_escape_and_bad_path_is_refused_for_reading(
    tree: dict[str, Path], relative: str, says: str
) -> None:
    roots = Roots.of([tree["root"]])
    with pytest.raises(LocalFileError, match=says):
        roots.open_readable(f"{tree['root']}/{relative}")


def identity(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_dev, info.st_ino


def read(roots: Roots, path: str | Path) -> tuple[int, int]:
    """Open a file through the roots; what was opened, by device and inode."""
    with roots.open_readable(str(path)) as file:
        return file.identity


def test_reading_inside_the_root_resolves_links_that_stay_inside(tree: dict[str, Path]) -> None:
    roots = Roots.of([tree["root"]])
    talk = identity(tree["root"] / "talk.wav")
    assert read(roots, tree["root"] / "inner-link.wav") == talk
    assert read(roots, tree["root"] / "sub" / ".." / "talk.wav") == talk


def test_no_roots_relative_paths_and_other_folders_are_refused(tree: dict[str, Path]) -> None:
    with pytest.raises(LocalFileError, match="DESCRIPT_MCP_ROOTS"):
        read(Roots.of([]), tree["root"] / "talk.wav")
    with pytest.raises(LocalFileError, match="not an absolute path"):
        read(Roots.of([tree["root"]]), "talk.wav")
    with pytest.raises(LocalFileError, match="outside the folders"):
        read(Roots.of([tree["root"]]), tree["outside"] / "secret.wav")
    sibling = tree["root"].with_name("root-evil")
    sibling.mkdir()
    (sibling / "x.wav").write_bytes(b"x")
    with pytest.raises(LocalFileError, match="outside the folders"):  # a prefix is not a parent
        read(Roots.of([tree["root"]]), sibling / "x.wav")


def test_home_is_expanded(tree: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tree["root"].parent))
    assert read(Roots.of(["~/root"]), "~/root/talk.wav") == identity(tree["root"] / "talk.wav")


def test_an_unknown_users_home_is_a_clear_error(tree: dict[str, Path]) -> None:
    with pytest.raises(LocalFileError, match="unknown user's home: give the full path"):
        read(Roots.of([tree["root"]]), "~no-such-user-here/talk.wav")


def test_case_is_folded_only_where_the_file_system_folds_it(
    tree: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    upper = Roots.of([str(tree["root"]).upper()])
    with pytest.raises(LocalFileError, match="outside the folders"):
        read(upper, tree["root"] / "talk.wav")
    monkeypatch.setattr(sys, "platform", "darwin")
    assert upper.locate(str(tree["root"] / "talk.wav"))[1] == ("talk.wav",)


def test_a_clients_roots_narrow_but_never_widen(tree: dict[str, Path]) -> None:
    (tree["root"] / "sub" / "ok.wav").write_bytes(b"x")
    narrowed = Roots.of([tree["root"]]).narrowed_to([tree["root"] / "sub"])
    assert read(narrowed, tree["root"] / "sub" / "ok.wav") == identity(
        tree["root"] / "sub" / "ok.wav"
    )
    with pytest.raises(LocalFileError, match="outside the folders"):
        read(narrowed, tree["root"] / "talk.wav")
    wider = Roots.of([tree["root"]]).narrowed_to([tree["outside"]])
    with pytest.raises(LocalFileError, match="outside the folders"):
        read(wider, tree["outside"] / "secret.wav")
    assert root_from_uri("file:///tmp/some%20folder") == Path(os.path.realpath("/tmp/some folder"))
    assert root_from_uri("https://example.com/x") is None


def test_writing_is_confined_and_never_replaces_unless_asked(tree: dict[str, Path]) -> None:
    roots = Roots.of([tree["root"]])

    def place(relative: str, overwrite: bool) -> str:
        with roots.open_writable(f"{tree['root']}/{relative}", overwrite=overwrite) as opened:
            return opened.name

    assert place("new.wav", overwrite=False) == "new.wav"
    with pytest.raises(LocalFileError, match="already exists"):
        place("talk.wav", overwrite=False)
    assert place("talk.wav", overwrite=True) == "talk.wav"
    for escape in ("link.wav", "linked-folder/new.wav", "../outside/new.wav"):
        with pytest.raises(LocalFileError, match="outside the folders"):
            place(escape, overwrite=True)
    with pytest.raises(LocalFileError, match="does not exist"):
        place("nope/new.wav", overwrite=False)
    with pytest.raises(LocalFileError, match="is a folder"):
        place("sub", overwrite=True)
    with pytest.raises(LocalFileError, match="not a regular file"):
        place("pipe.wav", overwrite=True)


@pytest.mark.anyio
async def test_write_file_never_replaces_a_file_that_appeared(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"

    async def write(content: bytes, overwrite: bool) -> None:
        with SavePlace.at(target, overwrite=True) as place:  # checked: it may exist
            await write_file(place, content, overwrite=overwrite)

    await write(b"first", overwrite=False)
    with pytest.raises(LocalFileError, match="not replaced"):
        await write(b"second", overwrite=False)
    await write(b"third", overwrite=True)
    assert target.read_bytes() == b"third"
    assert [p.name for p in tmp_path.iterdir()] == ["t.txt"]  # no partial files left


def _sparse_wav(path: Path, size: int, byte_rate: int = 384_000) -> None:
    """A WAV of `size` bytes whose samples are a hole in the file: no disk is written."""
    header = (
        b"RIFF"
        + struct.pack("<I", size - 8)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 2, 48_000, byte_rate, 8, 32)
        + b"data"
        + struct.pack("<I", size - 44)
    )
    with path.open("wb") as out:
        out.write(header)
        out.truncate(size)


@pytest.mark.anyio
@pytest.mark.parametrize("api_url", ["http"], indirect=True)  # the real wire, not in-process
async def test_a_file_ten_times_the_memory_bound_streams_in_constant_memory_with_progress(
    client: DescriptClient, sandbox: Sandbox, tmp_path: Path
) -> None:
    # Ten times the bound below is proof enough that nothing holds the file; the benchmark
    # (bench/upload.py) sends 1 GiB and measures the peak RSS.
    size = 640 * 1024**2
    path = tmp_path / "long.wav"
    _sparse_wav(path, size)
    created = await client.import_project_media(
        ImportMediaRequest(
            project_name="Long",
            add_media={"long.wav": UploadMedia(content_type="audio/wav", file_size=size)},
        )
    )
    reports: list[tuple[int, int | None]] = []

    async def on_bytes(sent: int, total: int | None) -> None:
        reports.append((sent, total))

    tracemalloc.start()
    try:
        with ReadableFile.at(path) as file:
            await upload_file(client, created.upload_urls["long.wav"].upload_url, file, on_bytes)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Python allocations of this process, sandbox included, while 640 MiB went by (the
    # benchmark measures peak RSS, native buffers and all).
    assert peak < 64 * 1024**2
    assert reports[-1] == (size, size)
    assert [sent for sent, _ in reports] == sorted({sent for sent, _ in reports})
    job = await wait(client, created.job_id)
    assert job.result is not None
    assert job.result.media_status["long.wav"].duration_seconds == pytest.approx(
        (size - 44) / 384_000, abs=0.01
    )


@pytest.mark.anyio
async def test_an_expired_upload_url_fails_the_upload(
    client: DescriptClient, sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.config.upload_url_ttl = 0.0
    path = tmp_path / "a.wav"
    path.write_bytes(b"x" * 1000)
    created = await client.import_project_media(
        ImportMediaRequest(
            project_name="Late",
            add_media={"a.wav": UploadMedia(content_type="audio/wav", file_size=1000)},
        )
    )
    with pytest.raises(Exception, match="400") as caught, ReadableFile.at(path) as file:
        await upload_file(client, created.upload_urls["a.wav"].upload_url, file)
    assert caught.type.__name__ == "BadRequestError"


class DroppingTransport(httpx.AsyncBaseTransport):
    """Cuts the first download after `cut_at` bytes; records each download's Range header."""

    def __init__(self, inner: httpx.AsyncBaseTransport, cut_at: int) -> None:
        self.inner, self.cut_at = inner, cut_at
        self.ranges: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if "/_sandbox/files/" not in request.url.path:
            return response
        self.ranges.append(request.headers.get("range"))
        if len(self.ranges) > 1:
            return response
        body = await response.aread()
        cut_at = self.cut_at

        async def truncated() -> object:
            yield body[:cut_at]
            raise httpx.ReadError("connection dropped", request=request)

        return httpx.Response(
            response.status_code, headers=response.headers, content=truncated(), request=request
        )  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_a_dropped_download_resumes_from_where_it_stopped(
    sandbox: Sandbox, imported_project, tmp_path: Path
) -> None:
    created = await imported_project()
    transport = DroppingTransport(httpx.ASGITransport(app=sandbox.app), cut_at=100_000)
    async with DescriptClient(
        sandbox.token, base_url="http://sandbox.test/v1", transport=transport
    ) as client:
        job = await wait(
            client, (await client.publish(PublishRequest(project_id=created.project_id))).job_id
        )
        assert job.result is not None
        url = job.result.download_url
        assert url is not None
        refreshed: list[str] = []

        async def refresh() -> str:
            refreshed.append(url)
            return url

        destination = tmp_path / "episode.wav"
        with SavePlace.at(destination, overwrite=False) as place:
            size = await download_file(client, url, place, overwrite=False, refresh=refresh)
    assert transport.ranges == [None, "bytes=100000-"]
    assert len(refreshed) == 1
    with wave.open(io.BytesIO(destination.read_bytes())) as rendered:
        assert rendered.getnframes() == 12 * 16_000
    assert size == destination.stat().st_size
    assert [p.name for p in tmp_path.iterdir()] == ["episode.wav"]


@pytest.mark.anyio
async def test_an_expired_download_link_is_refreshed_and_a_failure_leaves_nothing(
    client: DescriptClient, sandbox: Sandbox, imported_project, tmp_path: Path
) -> None:
    created = await imported_project()
    sandbox.config.download_url_ttl = 0.0
    job = await wait(
        client, (await client.publish(PublishRequest(project_id=created.project_id))).job_id
    )
    assert job.result is not None
    assert job.result.download_url is not None
    assert job.result.share_url is not None
    share_url = job.result.share_url

    with (
        SavePlace.at(tmp_path / "a.wav", overwrite=False) as place,
        pytest.raises(Exception, match="400"),  # no refresh: the expired link is final
    ):
        await download_file(client, job.result.download_url, place, overwrite=False)
    assert list(tmp_path.iterdir()) == []

    sandbox.config.download_url_ttl = 3600.0

    async def refresh() -> str:
        fresh = (await client.get_published_project(share_url)).download_url
        assert fresh is not None
        return fresh

    with SavePlace.at(tmp_path / "a.wav", overwrite=False) as place:
        size = await download_file(
            client, job.result.download_url, place, overwrite=False, refresh=refresh
        )
    assert size == (tmp_path / "a.wav").stat().st_size > 0


@pytest.mark.anyio
async def test_where_no_handle_can_be_located_the_fallback_refuses_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without dir_fd, names are used only when the handles they open can be located: a system
    that cannot say where an open file is gets a clear refusal, not a read or write by name."""
    monkeypatch.setattr("descript_mcp.files.local.SAFE_WALK", False)
    monkeypatch.setattr("descript_mcp.files.handles.final_path", lambda fd: None)
    (tmp_path / "talk.wav").write_bytes(b"RIFF")
    roots = Roots.of([tmp_path])
    with pytest.raises(LocalFileError, match="cannot say where an opened file is"):
        roots.open_readable(str(tmp_path / "talk.wav"))
    with (
        roots.open_writable(str(tmp_path / "saved.wav"), overwrite=False) as place,
        pytest.raises(LocalFileError, match="import from a URL instead"),
    ):
        await write_file(place, b"RIFF", overwrite=False)
    assert [p.name for p in tmp_path.iterdir()] == ["talk.wav"]
