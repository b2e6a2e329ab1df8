"""`descript-mcp serve --sandbox` as a real process, over stdio and over streamable HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPDeprecationWarning

from bench._sandbox import free_port
from descript_mcp.client.api import shared_tls_context
from descript_mcp.sandbox import DEFAULT_TOKEN, OTHER_DRIVE_TOKEN
from tests.server.conftest import error_text, structured
from tests.waiting import serving

pytestmark = pytest.mark.anyio

SERVE = [sys.executable, "-m", "descript_mcp", "serve", "--sandbox", "fast"]


def sample_url(mcp: Client) -> str:
    """The sample the sandbox's instructions name: a reference each process resolves."""
    found = re.search(r"(sandbox:\S+\.wav)", mcp.instructions or "")
    assert found, "the sandbox's instructions name its sample media"
    return found[1]


async def round_trip(mcp: Client, name: str) -> dict[str, Any]:
    """import → agent edit → publish; returns the import's summary."""
    imported = structured(
        await mcp.call_tool(
            "import_media",
            {
                "project_name": name,
                "add_media": {"sample.wav": {"url": sample_url(mcp)}},
                "add_compositions": [{"name": "Main", "clips": [{"media": "sample.wav"}]}],
            },
        )
    )
    assert imported["outcome"] == "success"
    edited = structured(
        await mcp.call_tool(
            "agent_edit", {"project_id": imported["project_id"], "prompt": "Apply studio sound"}
        )
    )
    assert edited["outcome"] == "success"
    published = structured(
        await mcp.call_tool(
            "publish", {"project_id": imported["project_id"], "access_level": "unlisted"}
        )
    )
    assert published["outcome"] == "success"
    assert published["share_url"].startswith("http://127.0.0.1:")
    return imported


async def history(mcp: Client) -> list[dict[str, Any]]:
    contents = (await mcp.read_resource("descript://jobs")).contents
    return json.loads(contents[0].text)["jobs"]  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_stdio_round_trip_and_resources(tmp_path: Path, mode: str) -> None:
    params = StdioServerParameters(
        command=SERVE[0], args=[*SERVE[1:], "--history", str(tmp_path / "history.sqlite3")]
    )
    async with Client(params, mode=mode) as mcp:
        imported = await round_trip(mcp, "Over stdio")
        jobs = await history(mcp)
        assert [job["job_type"] for job in jobs] == ["publish", "agent", "import/project_media"]
        assert all(job["state"] == "stopped" for job in jobs)
        record = json.loads(
            (await mcp.read_resource(f"descript://jobs/{imported['job_id']}")).contents[0].text
        )  # type: ignore[union-attr]
        assert record["events"][-1]["state"] == "stopped"
        project = json.loads(
            (await mcp.read_resource(f"descript://projects/{imported['project_id']}"))
            .contents[0]
            .text
        )  # type: ignore[union-attr]
        assert len(project["publishes"]) == 1


@contextmanager
def _running(transport: str, tmp_path: Path) -> Iterator[str]:
    """`serve --sandbox fast` on a free port; yields the origin once it accepts connections."""
    port = free_port()
    process = subprocess.Popen(
        [
            *SERVE,
            "--transport",
            transport,
            "--port",
            str(port),
            "--history",
            str(tmp_path / "history.sqlite3"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    serving(port, process)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stderr.close()  # type: ignore[union-attr]


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    with _running("http", tmp_path) as origin:
        yield f"{origin}/mcp"


@pytest.fixture
def sse_server(tmp_path: Path) -> Iterator[str]:
    with _running("sse", tmp_path) as origin:
        yield f"{origin}/sse"


@asynccontextmanager
async def _as(token: str | None, url: str, mode: str, **options: Any) -> AsyncIterator[Client]:
    """An MCP client sending `token` as its Descript token (the HTTP client is ours to close)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(
            headers=headers, timeout=httpx2.Timeout(30, read=120), verify=shared_tls_context()
        ) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode, **options) as mcp,
    ):
        yield mcp


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_http_serves_two_users_each_their_own_history(http_server: str, mode: str) -> None:
    async with (
        _as(DEFAULT_TOKEN, http_server, mode) as alice,
        _as(OTHER_DRIVE_TOKEN, http_server, mode) as bob,
    ):
        alices = await round_trip(alice, "Alice's show")
        bobs = await round_trip(bob, "Bob's show")
        alice_jobs = {job["job_id"] for job in await history(alice)}
        bob_jobs = {job["job_id"] for job in await history(bob)}
        assert alices["job_id"] in alice_jobs
        assert bobs["job_id"] in bob_jobs
        assert len(alice_jobs) == len(bob_jobs) == 3
        assert not alice_jobs & bob_jobs
        refused = error_text(await alice.call_tool("get_job", {"job_id": bobs["job_id"]}))
        assert "Descript refused access (403)" in refused
        cancel = error_text(await alice.call_tool("cancel_job", {"job_id": bobs["job_id"]}))
        assert "Descript refused access (403)" in cancel
        with pytest.raises(MCPError):
            await alice.read_resource(f"descript://jobs/{bobs['job_id']}")
        if mode == "legacy":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                with pytest.raises(MCPError, match="in your history"):
                    await alice.subscribe_resource(f"descript://jobs/{bobs['job_id']}")


async def test_a_2026_listener_hears_only_of_its_own_users_jobs(http_server: str) -> None:
    """Alice listens while Bob works; then Alice starts a job of her own, and hearing of it is
    the barrier: her stream is in order, so anything of Bob's sent to her would have come first.
    Each event notes whether Alice had started her job when it came."""
    heard: dict[str, list[bool]] = {"alice": [], "bob": []}
    alice_started = anyio.Event()
    heard_one = {"alice": anyio.Event(), "bob": anyio.Event()}

    async def listen(name: str, mcp: Client, ready: anyio.Event) -> None:
        async with mcp.listen(resource_subscriptions=["descript://jobs"]) as subscription:
            ready.set()
            async for event in subscription:
                assert str(event.uri) == "descript://jobs"
                heard[name].append(alice_started.is_set())
                heard_one[name].set()

    async with (
        _as(DEFAULT_TOKEN, http_server, "auto") as alice,
        _as(OTHER_DRIVE_TOKEN, http_server, "auto") as bob,
        anyio.create_task_group() as listeners,
    ):
        for name, mcp in (("alice", alice), ("bob", bob)):
            ready = anyio.Event()
            listeners.start_soon(listen, name, mcp, ready)
            await ready.wait()
        await round_trip(bob, "Bob's show")
        with anyio.fail_after(10):
            await heard_one["bob"].wait()
        alice_started.set()
        await alice.call_tool(
            "import_media",
            {"project_name": "Alice's show", "add_media": {"a.wav": {"url": sample_url(alice)}}},
        )
        with anyio.fail_after(10):
            await heard_one["alice"].wait()
        listeners.cancel_scope.cancel()
    assert heard["bob"]
    assert heard["alice"]
    assert all(heard["alice"]), "Alice heard of Bob's jobs"


def test_http_refuses_requests_without_a_token_and_oversized_bodies(http_server: str) -> None:
    anonymous = httpx2.post(http_server, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert anonymous.status_code == 401
    assert "Authorization: Bearer" in anonymous.json()["message"]
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert httpx2.get(http_server.removesuffix("/mcp") + "/health").status_code == 200
    huge = httpx2.post(
        http_server,
        content=b"[" + b"0," * 600_000 + b"0]",
        headers={
            "Authorization": f"Bearer {DEFAULT_TOKEN}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        },
    )
    assert huge.status_code == 413


async def test_sse_transport_serves_the_tools(sse_server: str) -> None:
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    async with Client(sse_client(sse_server, headers=headers)) as mcp:
        status = structured(await mcp.call_tool("get_drive_status", {}))
    assert status["drive_name"] == "Sandbox Drive"


def _dockerfile() -> tuple[dict[str, str], list[str]]:
    """The environment and command the image runs, read from the Dockerfile itself."""
    text = (Path(__file__).parents[2] / "Dockerfile").read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    command: list[str] = []
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(dict(re.findall(r"(\w+)=(\S+)", line)))
        elif line.startswith(("ENTRYPOINT ", "CMD ")):
            command += json.loads(line.split(" ", 1)[1])
    return env, command


def test_the_images_entry_command_serves_health_and_guards_hosts(tmp_path: Path) -> None:
    env, command = _dockerfile()
    assert command == ["descript-mcp", "serve"]
    port = free_port()
    env |= {
        "DESCRIPT_MCP_PORT": str(port),
        "DESCRIPT_MCP_HISTORY": str(tmp_path / "h.sqlite3"),
        "DESCRIPT_MCP_ALLOWED_HOSTS": "mcp.example.com",
    }
    assert env["DESCRIPT_MCP_HOST"] == "0.0.0.0"
    process = subprocess.Popen(
        [sys.executable, "-m", "descript_mcp", *command[1:], "--sandbox", "fast"],
        env={**os.environ, **{k: v for k, v in env.items() if k != "PATH"}},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    origin = f"http://127.0.0.1:{port}"
    try:
        serving(port, process)
        health = httpx2.get(f"{origin}/health")
        assert health.json()["status"] == "ok"
        initialize = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        }
        headers = {
            "Accept": "application/json, text/event-stream",
            "Authorization": f"Bearer {DEFAULT_TOKEN}",
        }
        for host, allowed in (
            ("evil.example.com", False),
            ("mcp.example.com", True),
            (f"localhost:{port}", True),
        ):
            answer = httpx2.post(
                f"{origin}/mcp", json=initialize, headers={**headers, "Host": host}
            )
            assert (answer.status_code != 421) is allowed, (host, answer.status_code)
    finally:
        process.terminate()
        process.wait(timeout=10)
