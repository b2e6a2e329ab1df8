"""Descript's job callbacks over HTTP: a job is seen to end at once, and a forged, lying or
replayed callback changes nothing that Descript does not confirm."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench._sandbox import free_port
from descript_mcp.client.waiter import PollSchedule
from descript_mcp.sandbox import OTHER_DRIVE_TOKEN, Sandbox, serve, serve_app
from descript_mcp.server import build_server
from descript_mcp.server.http.run import http_app
from descript_mcp.settings import Settings
from tests.server.conftest import structured
from tests.waiting import eventually

pytestmark = pytest.mark.anyio


async def _record(mcp: Client, job_id: str) -> dict[str, Any]:
    contents = (await mcp.read_resource(f"descript://jobs/{job_id}")).contents
    return json.loads(contents[0].text)  # type: ignore[union-attr]


async def test_callbacks_are_confirmed_before_they_count(sandbox: Sandbox, tmp_path: Path) -> None:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    async with serve(sandbox) as api:
        settings = Settings(
            api_key=sandbox.token,
            api_url=api,
            transport="http",
            history_path=tmp_path / "h.sqlite3",
            callback_url=origin,
        )
        # Followers poll once, then only after 30 s: quick news can only come by callback.
        server = build_server(settings, poll_schedule=PollSchedule(30, 1, 30))
        app = http_app(server, settings)  # as served: a token is required, but not of Descript
        async with (
            serve_app(app, port=port),
            httpx2.AsyncClient(
                headers={"Authorization": f"Bearer {sandbox.token}"}, timeout=30
            ) as http,
            Client(streamable_http_client(f"{origin}/mcp", http_client=http)) as mcp,
            httpx.AsyncClient() as poster,
        ):
            sample = api.removesuffix("/v1") + "/_sandbox/media/sample.wav"
            sandbox.config.timings.import_item = 0.3
            done = structured(
                await mcp.call_tool(
                    "import_media", {"add_media": {"a.wav": {"url": sample}}, "wait_seconds": 0}
                )
            )
            callback_url = sandbox.world.jobs[done["job_id"]].callback_url
            assert callback_url is not None
            assert callback_url.startswith(f"{origin}/callbacks/")
            secret = callback_url.rpartition("/")[2]

            async def recorded_stopped() -> bool:  # the next poll would be 30 s away
                return bool((await _record(mcp, done["job_id"]))["state"] == "stopped")

            await eventually(recorded_stopped, "the callback recorded the job's end")

            sandbox.config.timings.import_item = 30.0
            running = structured(
                await mcp.call_tool(
                    "import_media", {"add_media": {"b.wav": {"url": sample}}, "wait_seconds": 0}
                )
            )
            secret_url = sandbox.world.jobs[running["job_id"]].callback_url
            assert secret_url is not None
            lie = {
                "job_id": running["job_id"],
                "job_type": "import/project_media",
                "job_state": "stopped",
                "result": {"status": "success", "media_status": {}},
            }
            assert (await poster.post(secret_url, json=lie)).status_code == 204
            assert (await _record(mcp, running["job_id"]))["state"] in ("queued", "running")

            forged = await poster.post(f"{origin}/callbacks/not-a-secret", json=lie)
            assert forged.status_code == 404
            async with httpx.AsyncClient(
                base_url=api, headers={"Authorization": f"Bearer {OTHER_DRIVE_TOKEN}"}
            ) as other:
                theirs = (
                    await other.post("/jobs/import/project_media", json={"project_name": "Theirs"})
                ).json()["job_id"]
            foreign = await poster.post(secret_url, json={"job_id": theirs})
            assert foreign.status_code == 404  # Descript denies this caller that job

            replay = await poster.post(callback_url, json={"job_id": done["job_id"]})
            assert replay.status_code == 204
            assert (await _record(mcp, done["job_id"]))["state"] == "stopped"
            history = json.loads((await mcp.read_resource("descript://jobs")).contents[0].text)  # type: ignore[union-attr]
            assert theirs not in {job["job_id"] for job in history["jobs"]}
            # The callback URL's secret is a credential: never in the history.
            assert secret not in json.dumps(await _record(mcp, done["job_id"]))
            for stored in tmp_path.glob("h.sqlite3*"):  # the database and its WAL
                assert secret.encode() not in stored.read_bytes()
