"""Never paying twice, through the tools: the guard against the same call twice, unknown
arguments refused, and two servers sharing one history against the sandbox over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server import MCPServer

from descript_mcp import DescriptClient
from descript_mcp.client.ledger import SubmissionLedger
from descript_mcp.sandbox import Fault, Sandbox, serve
from descript_mcp.sandbox.media import synthesize_wav
from descript_mcp.sandbox.state import Job
from descript_mcp.server import build_server
from descript_mcp.settings import Settings
from tests.conftest import FAST_POLL
from tests.server.conftest import (
    SAMPLE,
    SERVER_RETRIES,
    error_text,
    import_sample,
    read_json,
    structured,
)
from tests.waiting import eventually

pytestmark = pytest.mark.anyio

IMPORTS = "/jobs/import/project_media"


def import_arguments(name: str = "Episode") -> dict[str, Any]:
    return {"project_name": name, "add_media": {"sample.wav": {"url": SAMPLE}}}


async def test_the_same_call_again_returns_the_earlier_job_and_says_so(
    mcp: Client, sandbox: Sandbox
) -> None:
    first = structured(await mcp.call_tool("import_media", import_arguments()))
    again = structured(await mcp.call_tool("import_media", import_arguments()))
    assert again["job_id"] == first["job_id"]
    assert again["summary"].startswith("The same request was submitted at ")
    assert f"as job {first['job_id']}" in again["summary"]
    assert "force: true" in again["summary"]
    assert len(sandbox.api_requests("POST", IMPORTS)) == 1
    # Another call, or the same one forced, is sent.
    other = structured(await mcp.call_tool("import_media", import_arguments("Other")))
    forced = structured(await mcp.call_tool("import_media", import_arguments() | {"force": True}))
    assert len({first["job_id"], other["job_id"], forced["job_id"]}) == 3
    assert len(sandbox.api_requests("POST", IMPORTS)) == 3


async def test_a_job_that_was_cancelled_may_be_asked_for_again(
    mcp: Client, sandbox: Sandbox
) -> None:
    sandbox.config.timings.import_item = 30.0
    first = structured(
        await mcp.call_tool("import_media", import_arguments() | {"wait_seconds": 0})
    )
    await mcp.call_tool("cancel_job", {"job_id": first["job_id"]})
    again = structured(
        await mcp.call_tool("import_media", import_arguments() | {"wait_seconds": 0})
    )
    assert again["job_id"] != first["job_id"]
    assert len(sandbox.api_requests("POST", IMPORTS)) == 2


async def test_an_unconfirmed_call_is_not_sent_again_unless_forced(
    mcp: Client, sandbox: Sandbox
) -> None:
    sandbox.faults.add(Fault("POST", IMPORTS, status=502, when="before"))
    unsure = error_text(await mcp.call_tool("import_media", import_arguments()))
    assert "Do not submit it again" in unsure
    assert "list_jobs" in unsure
    assert "get_job" in unsure
    repeated = error_text(await mcp.call_tool("import_media", import_arguments()))
    assert "may or may not have created its job (candidates: none found)" in repeated
    assert "Nothing was submitted again" in repeated
    assert len(sandbox.api_requests("POST", IMPORTS)) == 1
    structured(await mcp.call_tool("import_media", import_arguments() | {"force": True}))
    assert len(sandbox.api_requests("POST", IMPORTS)) == 2


async def test_an_unconfirmed_call_names_every_job_that_may_be_its_own(
    mcp: Client, sandbox: Sandbox
) -> None:
    """Someone else started an agent edit on the project minutes ago; then this call's answer
    is lost after Descript made its job. Neither can be shown to be this call's: the tool's
    answer and the job history name both, the one made while the call was in flight as the
    candidate."""
    project = await import_sample(mcp)
    drive = sandbox.config.drives[0].id
    earlier = sandbox.world.add_job(
        Job(
            "someone-elses-edit",
            "agent",
            drive,
            project["project_id"],
            project["project_url"],
            created_at=sandbox.world.now() - timedelta(minutes=5),
            token="someone-else",
        )
    )
    sandbox.faults.add(Fault("POST", "/jobs/agent", status=502, when="after"))
    text = error_text(
        await mcp.call_tool("agent_edit", {"project_id": project["project_id"], "prompt": "Cut"})
    )
    (ours,) = [
        j.id for j in sandbox.world.jobs.values() if (j.type, j.token) == ("agent", sandbox.token)
    ]
    assert f"Candidates: {ours}." in text
    assert "Other jobs of this kind on this project from around then" in text
    assert earlier.id in text
    assert "get_job on each job named" in text
    history = await read_json(mcp, "descript://jobs")
    (unsure,) = history["unconfirmed"]
    assert unsure["candidates"] == [ours, earlier.id]


async def test_an_unknown_argument_is_refused_with_the_names_accepted(
    mcp: Client, sandbox: Sandbox
) -> None:
    project = await import_sample(mcp)
    text = error_text(
        await mcp.call_tool(
            "publish", {"project_id": project["project_id"], "acces_level": "unlisted"}
        )
    )
    assert "unknown argument 'acces_level' (did you mean access_level?)" in text
    assert "accepted: project_id, composition_id, access_level, media_type" in text
    nested = error_text(
        await mcp.call_tool(
            "import_media", {"add_media": {"a.wav": {"urll": SAMPLE}}, "project_name": "X"}
        )
    )
    accepted = "accepted: url, path, file_size, content_type, language, tracks"
    assert f"add_media.a.wav.urll: unknown field; {accepted}" in nested
    assert sandbox.api_requests("POST", "/jobs/publish") == []
    assert len(sandbox.api_requests("POST", IMPORTS)) == 1  # the sample's import only


async def test_every_tool_says_it_takes_no_other_arguments(mcp: Client) -> None:
    for tool in (await mcp.list_tools()).tools:
        assert tool.input_schema.get("additionalProperties") is False, tool.name


async def test_an_odd_job_is_listed_as_it_came(mcp: Client, sandbox: Sandbox) -> None:
    class OddJob(Job):
        def to_json(self) -> dict[str, object]:
            return super().to_json() | {
                "job_state": "archived",
                "progress": {"label": "Archiving", "percent": 12.5},
            }

    drive = sandbox.config.drives[0].id
    sandbox.world.add_job(OddJob("odd-1", "agent", drive, "p", "http://sandbox.test/p"))
    listed = structured(await mcp.call_tool("list_jobs", {}))
    (odd,) = listed["jobs"]
    assert (odd["state"], odd["progress_percent"], odd["finished"]) == ("archived", 12.5, False)
    assert odd["progress_label"] == "Archiving"
    assert "(12.5%)" in odd["summary"]


async def test_an_import_whose_upload_urls_were_lost_is_recorded_and_cancelled(
    make_server, mode: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    (tmp_path / "talk.wav").write_bytes(synthesize_wav(1.0))
    sandbox.faults.add(Fault("POST", IMPORTS, status=500, when="after"))
    async with Client(make_server(roots=(tmp_path,)), mode=mode) as mcp:
        arguments = {
            "project_name": "Lost",
            "add_media": {"talk.wav": {"path": str(tmp_path / "talk.wav")}},
        }
        text = error_text(await mcp.call_tool("import_media", arguments))
        assert "The import was cancelled" in text
        assert "submitting it again is safe" in text
        (job_id,) = sandbox.world.jobs
        assert sandbox.world.jobs[job_id].state == "cancelled"

        async def cancelled() -> dict[str, Any] | None:  # its follower records it
            record: dict[str, Any] = await read_json(mcp, f"descript://jobs/{job_id}")
            return record if record["state"] == "cancelled" else None

        record = await eventually(cancelled, "the history recorded the cancellation")
        assert record["tool"] == "import_media"
        assert record["state"] == "cancelled"
        # Cancelled, so the same call is not a repeat: it is sent.
        again = structured(await mcp.call_tool("import_media", arguments))
        assert again["outcome"] == "success"
    assert len(sandbox.api_requests("POST", IMPORTS)) == 2


@pytest.fixture
async def api(sandbox: Sandbox) -> AsyncIterator[str]:
    async with serve(sandbox) as url:
        yield url


def server_over_http(api: str, history: Path, token: str) -> MCPServer[Any]:
    def factory(token: str, *, ledger: SubmissionLedger) -> DescriptClient:
        return DescriptClient(token, base_url=api, retry=SERVER_RETRIES, ledger=ledger)

    settings = Settings(api_key=token, api_url=api, history_path=history, wait_seconds=5)
    return build_server(settings, client_factory=factory, poll_schedule=FAST_POLL)


@pytest.mark.parametrize("servers", ["one session", "two servers, one history"])
async def test_a_call_beside_a_slow_success_never_reports_its_job(
    api: str, sandbox: Sandbox, tmp_path: Path, mode: str, servers: str
) -> None:
    """Call A on the project succeeds slowly; call B on the same project gets a 502 with
    nothing created. B, beside A in one session or in another server sharing the history,
    sees A in flight and does not report A's job as its own."""
    history = tmp_path / "history.sqlite3"
    server_a = server_over_http(api, history, sandbox.token)
    server_b = server_over_http(api, history, sandbox.token)
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(Client(server_a, mode=mode))
        b = a
        if servers != "one session":
            b = await stack.enter_async_context(Client(server_b, mode=mode))
        sample = api.removesuffix("/v1") + "/_sandbox/media/sample.wav"
        project = await import_sample(a, add_media={"sample.wav": {"url": sample}})
        late = sandbox.faults.add(
            Fault("POST", "/jobs/agent", kind="latency", when="after", holds=True)
        )
        answers: dict[str, dict[str, Any]] = {}

        async def call_a() -> None:
            answers["A"] = structured(
                await a.call_tool(
                    "agent_edit", {"project_id": project["project_id"], "prompt": "A"}
                )
            )

        async with anyio.create_task_group() as group:
            group.start_soon(call_a)
            await late.fired()
            sandbox.faults.add(Fault("POST", "/jobs/agent", status=502, when="before"))
            text = error_text(
                await b.call_tool(
                    "agent_edit", {"project_id": project["project_id"], "prompt": "B"}
                )
            )
            late.release()  # A's answer arrives after B has failed
    assert "in flight" in text
    assert "Do not submit it again" in text
    assert answers["A"]["job_id"] in sandbox.world.jobs
    assert answers["A"]["job_id"] not in text.split("Candidates:")[0]
    assert len(sandbox.api_requests("POST", "/jobs/agent")) == 2


async def test_an_import_with_statuses_this_server_has_no_name_for_is_summarised(
    mcp: Client, sandbox: Sandbox
) -> None:
    class NewStatuses(Job):
        def to_json(self) -> dict[str, object]:
            return super().to_json() | {
                "job_state": "stopped",
                "result": {
                    "status": "partial_success",
                    "media_status": {"a.wav": {"status": "skipped"}},
                    "media_seconds_used": 0,
                },
            }

    drive = sandbox.config.drives[0].id
    sandbox.world.add_job(NewStatuses("new-1", "import/project_media", drive, "p", "http://p"))
    summary = structured(await mcp.call_tool("get_job", {"job_id": "new-1"}))
    assert summary["outcome"] == "unknown"
    assert summary["media"] == [{"name": "a.wav", "status": "skipped"}]
    assert "ended with a status this server does not know" in summary["summary"]
