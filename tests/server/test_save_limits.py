"""save_file's bounds, from outside: names longer than the file system takes, paths that name a
folder, the largest file the server saves, and each user's quota under --http-local-files, with
saves at once; and whichever way a save fails, nothing is left behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from descript_mcp.history.records import owner_of
from descript_mcp.sandbox import DEFAULT_TOKEN
from tests.server.conftest import error_text, import_sample, structured
from tests.server.test_hardening import serve_http

pytestmark = pytest.mark.anyio

__all__ = ["serve_http"]  # the fixture, shared

# Three clips of the 12-second sample: a 36-second render, 1.1 MiB of 16 kHz WAV.
LONG_RENDER = [{"name": "Long", "clips": [{"media": "sample.wav"}] * 3}]


@pytest.fixture(params=["descriptors", "handles"])
def walk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Saves with folder descriptors (POSIX) and with the names-and-handles fallback."""
    monkeypatch.setattr("descript_mcp.files.local.SAFE_WALK", request.param == "descriptors")
    return str(request.param)


async def _transcript(mcp: Client, path: Path) -> Any:
    project = await import_sample(mcp)
    return await mcp.call_tool(
        "save_file", {"project_id": project["project_id"], "path": str(path)}
    )


async def test_a_long_name_is_saved_and_one_too_long_is_refused_clearly(
    make_server, tmp_path: Path, walk: str
) -> None:
    async with Client(make_server(roots=(tmp_path,)), mode="legacy") as mcp:
        fits = structured(await _transcript(mcp, tmp_path / ("n" * 250 + ".md")))
        refused = error_text(await _transcript(mcp, tmp_path / ("x" * 260 + ".md")))
    assert fits["saved"] is True
    assert "is 263 bytes long, and this file system takes at most 255" in refused
    assert "choose a shorter name" in refused
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.sqlite3", "n" * 250 + ".md"]


@pytest.mark.parametrize("ending", ["/", "/.", "/.."])
async def test_a_path_that_names_a_folder_is_refused_and_makes_nothing(
    make_server, tmp_path: Path, walk: str, ending: str
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    async with Client(make_server(roots=(root,)), mode="legacy") as mcp:
        text = error_text(await _transcript(mcp, f"{root}/newdir{ending}"))
        existing = error_text(await _transcript(mcp, f"{root}{ending}"))
    assert "names a folder: give a file name in it" in text
    assert "names a folder" in existing or "outside the folders" in existing
    assert list(root.iterdir()) == []


async def test_a_file_larger_than_the_servers_bound_is_not_saved(
    make_server, tmp_path: Path, walk: str
) -> None:
    async with Client(make_server(roots=(tmp_path,), max_save_mb=1), mode="legacy") as mcp:
        project = await import_sample(mcp, add_compositions=LONG_RENDER)
        published = structured(
            await mcp.call_tool("publish", {"project_id": project["project_id"]})
        )
        text = error_text(
            await mcp.call_tool(
                "save_file", {"job_id": published["job_id"], "path": str(tmp_path / "long.wav")}
            )
        )
    assert text.startswith("Error executing tool save_file: Nothing saved: the file is 1.1 MiB")
    assert "at most 1 MiB (DESCRIPT_MCP_MAX_SAVE_MB or --max-save-mb raises it)" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.sqlite3"]  # no partial file


async def test_each_user_keeps_at_most_their_quota_even_with_saves_at_once(
    serve_http, tmp_path: Path
) -> None:
    root = tmp_path / "shared"
    root.mkdir()
    mine = root / owner_of(DEFAULT_TOKEN)
    async with (
        serve_http(roots=(root,), http_local_files=True, http_quota_mb=2) as served,
        served.client(DEFAULT_TOKEN) as mcp,
    ):
        project = await import_sample(mcp, add_compositions=LONG_RENDER)
        published = structured(
            await mcp.call_tool("publish", {"project_id": project["project_id"]})
        )
        answers: list[Any] = []

        async def save(name: str) -> None:
            arguments = {"job_id": published["job_id"], "path": str(mine / name)}
            answers.append(await mcp.call_tool("save_file", arguments))

        async with anyio.create_task_group() as saves:  # 2 x 1.1 MiB at once, in 2 MiB
            for name in ("one.wav", "two.wav"):
                saves.start_soon(save, name)
        (mine / "one.wav").unlink(missing_ok=True)
        (mine / "two.wav").unlink(missing_ok=True)
        again = structured(
            await mcp.call_tool(
                "save_file", {"job_id": published["job_id"], "path": str(mine / "three.wav")}
            )
        )
    assert sorted(answer.is_error for answer in answers) == [False, True]
    (refused,) = [error_text(answer) for answer in answers if answer.is_error]
    assert "your folders on this server hold 1.1 MiB of the 2.0 MiB each user may keep" in refused
    assert "DESCRIPT_MCP_HTTP_QUOTA_MB" in refused
    assert again["saved"] is True  # room again once files were removed
    assert sorted(p.name for p in mine.iterdir()) == ["three.wav"]
