"""Job history resources, subscriptions in both eras, completions and prompts."""

from __future__ import annotations

import warnings
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client, MCPError
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import PromptReference, ResourceTemplateReference, ResourceUpdatedNotification

from descript_mcp import DescriptClient
from descript_mcp.client.models import ImportMediaRequest
from descript_mcp.sandbox import Sandbox
from tests.server.conftest import API, ERAS, import_sample, read_json, structured

pytestmark = pytest.mark.anyio
# Resources and completions are among what the two protocol eras do differently.
both_eras = pytest.mark.parametrize("mode", ERAS)


@both_eras
async def test_history_lists_jobs_newest_first_with_their_records(mcp: Client) -> None:
    first = await import_sample(mcp, name="First")
    second = await import_sample(mcp, name="Second")
    history = await read_json(mcp, "descript://jobs")
    assert [job["job_id"] for job in history["jobs"]] == [second["job_id"], first["job_id"]]
    record = await read_json(mcp, f"descript://jobs/{first['job_id']}")
    assert record["state"] == "stopped"
    assert record["tool"] == "import_media"
    assert record["request"]["project_name"] == "First"
    assert record["result"]["media_status"]["sample.wav"]["status"] == "success"
    states = [event["state"] for event in record["events"]]
    assert states[0] == "queued"
    assert states[-1] == "stopped"


@both_eras
async def test_unknown_job_and_project_resources_are_not_found(mcp: Client) -> None:
    with pytest.raises(MCPError) as missing:
        await mcp.read_resource("descript://jobs/project-media-import-unknown")
    assert "No job project-media-import-unknown" in missing.value.error.message
    with pytest.raises(MCPError) as no_project:
        await mcp.read_resource("descript://projects/9f36ee32-5a2c-47e7-b1a3-94991d3e3ddb")
    assert "Project not found" in no_project.value.error.message


@both_eras
async def test_project_resource_reads_descript(mcp: Client) -> None:
    project = await import_sample(mcp)
    detail = await read_json(mcp, f"descript://projects/{project['project_id']}")
    assert detail["id"] == project["project_id"]
    assert "sample.wav" in detail["media_files"]


@both_eras
async def test_resources_and_templates_are_listed(mcp: Client) -> None:
    resources = [r.uri for r in (await mcp.list_resources()).resources]
    templates = [t.uri_template for t in (await mcp.list_resource_templates()).resource_templates]
    assert sorted(resources) == ["descript://jobs", "ui://descript-mcp/job.html"]  # the job view
    assert sorted(templates) == ["descript://jobs/{job_id}", "descript://projects/{project_id}"]


@both_eras
async def test_history_survives_a_restart(make_server, mode: str) -> None:
    async with Client(make_server(), mode=mode) as before:
        job = await import_sample(before)
    async with Client(make_server(), mode=mode) as after:
        history = await read_json(after, "descript://jobs")
    assert [j["job_id"] for j in history["jobs"]] == [job["job_id"]]


async def test_a_2025_subscriber_hears_when_its_job_finishes(make_server, sandbox: Sandbox) -> None:
    send, updates = anyio.create_memory_object_stream[str](100)

    async def on_message(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            send.send_nowait(str(message.params.uri))

    sandbox.config.timings.import_item = 1.0  # outlasts the subscribe, even on a busy machine
    heard: list[str] = []
    with send, updates:
        async with Client(make_server(), mode="legacy", message_handler=on_message) as mcp:
            started = await import_sample(mcp, wait_seconds=0)
            uri = f"descript://jobs/{started['job_id']}"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MCPDeprecationWarning)  # 2025-era API, on purpose
                await mcp.subscribe_resource(uri)
            with anyio.fail_after(10):
                async for updated in updates:  # read on each update, until one finds it ended
                    heard.append(updated)
                    if (await read_json(mcp, uri))["state"] == "stopped":
                        break
    assert set(heard) == {uri}


async def test_a_2026_listener_hears_when_its_job_finishes(make_server, sandbox: Sandbox) -> None:
    sandbox.config.timings.import_item = 1.0  # outlasts the listen, even on a busy machine
    async with Client(make_server(), mode="auto") as mcp:
        started = await import_sample(mcp, wait_seconds=0)
        uri = f"descript://jobs/{started['job_id']}"
        heard: list[str] = []
        async with mcp.listen(resource_subscriptions=[uri]) as subscription:
            with anyio.fail_after(10):
                async for event in subscription:
                    heard.append(str(event.uri))
                    if (await read_json(mcp, uri))["state"] == "stopped":
                        break
        assert set(heard) == {uri}


@both_eras
async def test_completions_offer_the_callers_job_and_project_ids(mcp: Client) -> None:
    job = await import_sample(mcp)
    jobs = await mcp.complete(
        ResourceTemplateReference(type="ref/resource", uri="descript://jobs/{job_id}"),
        {"name": "job_id", "value": "project-media-"},
    )
    assert jobs.completion.values == [job["job_id"]]
    projects = await mcp.complete(
        PromptReference(type="ref/prompt", name="clean_up_podcast"),
        {"name": "project_id", "value": job["project_id"][:4]},
    )
    assert projects.completion.values == [job["project_id"]]
    none = await mcp.complete(
        ResourceTemplateReference(type="ref/resource", uri="descript://jobs/{job_id}"),
        {"name": "job_id", "value": "zzz"},
    )
    assert none.completion.values == []


@both_eras
async def test_prompts_chain_the_tools(mcp: Client) -> None:
    prompts = {p.name: p for p in (await mcp.list_prompts()).prompts}
    assert set(prompts) == {"clean_up_podcast", "import_and_transcribe", "draft_from_idea"}
    assert all(p.description for p in prompts.values())
    clean = await mcp.get_prompt("clean_up_podcast", {"project_id": "p-1", "publish": "yes"})
    text = clean.messages[0].content.text  # type: ignore[union-attr]
    assert "project p-1" in text
    assert "agent_edit" in text
    assert "Publish the composition" in text
    quiet = await mcp.get_prompt("clean_up_podcast", {"project_id": "p-1", "publish": "no"})
    assert "Publish" not in quiet.messages[0].content.text  # type: ignore[union-attr]


@both_eras
async def test_list_jobs_records_jobs_started_elsewhere(mcp: Client, sandbox: Sandbox) -> None:
    async with DescriptClient(
        sandbox.token, base_url=API, transport=httpx.ASGITransport(app=sandbox.app)
    ) as direct:
        elsewhere = await direct.import_project_media(ImportMediaRequest(project_name="Web"))
    assert (await read_json(mcp, "descript://jobs"))["jobs"] == []
    structured(await mcp.call_tool("list_jobs", {}))
    history = await read_json(mcp, "descript://jobs")
    assert [j["job_id"] for j in history["jobs"]] == [elsewhere.job_id]
    assert history["jobs"][0]["request"] is None  # not started here: nothing known of the ask
