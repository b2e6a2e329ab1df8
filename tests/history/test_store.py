"""The job history's jobs on each backend (SQLite and PostgreSQL, the `history` fixture):
migrations, owners kept apart, concurrent writers, literal completion prefixes."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from descript_mcp.client.models import JobCreated, JobProgress, PublishJob, PublishResult
from descript_mcp.history import History
from descript_mcp.history.backends.sqlite import CHECKPOINT_EVERY, MIGRATIONS
from descript_mcp.history.jobs import JobStore
from descript_mcp.history.records import owner_of

pytestmark = pytest.mark.anyio

ALICE, BOB = owner_of("alice-token"), owner_of("bob-token")


def _created(job_id: str) -> JobCreated:
    return JobCreated(job_id=job_id, drive_id="d", project_id="p", project_url="https://x/p")


def _running(job_id: str, percent: int = 1) -> PublishJob:
    return PublishJob(
        job_id=job_id,
        job_type="publish",
        job_state="running",
        created_at=datetime.now(UTC),
        drive_id="d",
        project_id="p",
        project_url="https://x/p",
        progress=JobProgress(label="Rendering", percent=percent),
    )


@pytest.fixture
def store(history: History) -> JobStore:
    return history.jobs


async def test_migrations_run_once_and_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    for _ in range(2):
        await (await History.open(path)).aclose()
    db = sqlite3.connect(path)
    assert [n for (n,) in db.execute("SELECT name FROM _migrations")] == [m[0] for m in MIGRATIONS]
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_the_wal_stops_growing_though_commits_never_checkpoint_it(tmp_path: Path) -> None:
    """Commits run on the event loop's thread with SQLite's checkpoint off; the server's own,
    on a worker thread, keeps the WAL from growing with every job recorded."""
    path = tmp_path / "h.sqlite3"
    history = await History.open(path)
    wal = tmp_path / "h.sqlite3-wal"
    sizes = []
    try:
        for n in range(4 * CHECKPOINT_EVERY):
            await history.jobs.record_job(ALICE, _running(f"job-{n}"))
            if n % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1:
                sizes.append(wal.stat().st_size)
    finally:
        await history.aclose()
    # Once checkpointed, the WAL is written again from its start: it grows no more.
    assert sizes[1] > 0
    assert sizes[-1] == sizes[1], sizes


async def test_a_write_waits_for_another_process_off_the_event_loop(tmp_path: Path) -> None:
    """Statements run on the event loop's thread; one that finds the file locked by another
    process (a second server on the same history) waits on a worker thread instead: the loop
    goes on meanwhile, and the write lands once the lock is released."""
    path = tmp_path / "h.sqlite3"
    history = await History.open(path)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        recorded, ticks = anyio.Event(), 0

        async def record() -> None:
            await history.jobs.record_job(ALICE, _running("held"))
            recorded.set()

        async with anyio.create_task_group() as group:
            group.start_soon(record)
            while ticks < 20:  # the loop turns while the write waits for the lock
                await anyio.sleep(0.01)
                ticks += 1
            assert not recorded.is_set()
            other.execute("COMMIT")
            with anyio.fail_after(5):
                await recorded.wait()
        held = await history.jobs.get(ALICE, "held")
        assert held is not None
        assert held.state == "running"
        # Reads meanwhile go on at once, on the loop's thread.
        other.execute("BEGIN IMMEDIATE")
        assert [r.job_id for r in await history.jobs.recent(ALICE)] == ["held"]
        other.execute("COMMIT")
    finally:
        other.close()
        await history.aclose()


def test_owners_are_fingerprints_not_tokens() -> None:
    assert owner_of("alice-token") == ALICE
    assert "alice" not in ALICE
    assert ALICE != BOB


async def test_each_owner_sees_only_their_jobs(store: JobStore) -> None:
    await store.record_submitted(
        ALICE, _created("a1"), job_type="agent", tool="agent_edit", request={"prompt": "x"}
    )
    await store.record_submitted(
        BOB, _created("b1"), job_type="agent", tool="agent_edit", request={"prompt": "y"}
    )
    assert [r.job_id for r in await store.recent(ALICE)] == ["a1"]
    assert await store.get(ALICE, "b1") is None
    assert await store.events(ALICE, "b1") == []
    assert await store.complete_ids(ALICE, "job_id", "") == ["a1"]
    # Two tokens of one drive can both see a job: each keeps a history of its own.
    assert await store.record_job(ALICE, _running("b1"))
    assert (await store.get(ALICE, "b1")).state == "running"  # type: ignore[union-attr]
    assert (await store.events(BOB, "b1"))[-1]["state"] == "queued"
    assert (await store.get(BOB, "b1")).state == "queued"  # type: ignore[union-attr]


async def test_state_changes_become_events_and_the_result_is_kept(store: JobStore) -> None:
    await store.record_submitted(
        ALICE, _created("j"), job_type="publish", tool="publish", request={}
    )
    now = datetime.now(UTC)
    running = PublishJob(
        job_id="j",
        job_type="publish",
        job_state="running",
        created_at=now,
        drive_id="d",
        project_id="p",
        project_url="https://x/p",
        progress=JobProgress(label="Rendering", percent=40),
    )
    assert await store.record_job(ALICE, running)
    assert not await store.record_job(ALICE, running)  # nothing new
    stopped = running.model_copy(
        update={
            "job_state": "stopped",
            "progress": None,
            "stopped_at": now,
            "result": PublishResult(status="success", share_url="https://share/x"),
        }
    )
    assert await store.record_job(ALICE, stopped)
    record = await store.get(ALICE, "j")
    assert record is not None
    assert record.state == "stopped"
    assert record.result == {"status": "success", "share_url": "https://share/x"}
    events = await store.events(ALICE, "j")
    assert [(e["state"], e["label"]) for e in events] == [
        ("queued", None),
        ("running", "Rendering"),
        ("stopped", None),
    ]


async def test_concurrent_writers_lose_nothing(store: JobStore) -> None:
    async def submit(n: int) -> None:
        await store.record_submitted(
            ALICE, _created(f"job-{n:03d}"), job_type="agent", tool="agent_edit", request={"n": n}
        )
        await store.record_job(ALICE, _running(f"job-{n:03d}", n % 100))

    async with anyio.create_task_group() as group:
        for n in range(200):
            group.start_soon(submit, n)
    assert len(await store.recent(ALICE, limit=500)) == 200
    assert len(await store.complete_ids(ALICE, "job_id", "job-1", limit=500)) == 100


async def test_completion_prefixes_are_literal(store: JobStore) -> None:
    for job_id in ("a_b", "axb", "a%c"):
        await store.record_submitted(
            ALICE, _created(job_id), job_type="agent", tool="t", request={}
        )
    assert await store.complete_ids(ALICE, "job_id", "a_") == ["a_b"]
    assert await store.complete_ids(ALICE, "job_id", "a%") == ["a%c"]
