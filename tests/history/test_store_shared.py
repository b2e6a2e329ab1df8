"""What several processes sharing the history rely on, on each backend: one of two identical
submissions is sent, one claim of a job wins, a code works once, a refresh token rotates once,
revocation wipes the sealed token. Each race is run by two History objects (two processes, or two
replicas) on the same database, many times at once."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import anyio
import pytest

from descript_mcp.client.ledger import DedupeKey, Submission
from descript_mcp.errors import DuplicateSubmissionError
from descript_mcp.history import History
from descript_mcp.history.backends.postgres import PostgresDatabase
from descript_mcp.history.budgets import Budget, Refusal, Spend
from descript_mcp.history.database import Notification
from descript_mcp.history.grants import CodeRecord, Grant, SignIn, TokenRecord, digest
from descript_mcp.history.leases import Lead
from descript_mcp.history.records import owner_of

pytestmark = pytest.mark.anyio

ALICE = owner_of("alice-token")


@pytest.fixture
async def other(
    history: History, tmp_path: Path, database_url: str | None
) -> AsyncIterator[History]:
    """A second process's view of the same history."""
    opened = await History.open(tmp_path / "state" / "history.sqlite3", database_url)
    yield opened
    await opened.aclose()


async def race(*attempts: object) -> list[object]:
    """Run the attempts at once; each one's result, or the exception it raised."""
    results: list[object] = [None] * len(attempts)

    async def one(index: int, attempt: object) -> None:
        try:
            results[index] = await attempt  # type: ignore[misc]
        except Exception as error:  # the race's loser: its error is its result
            results[index] = error

    async with anyio.create_task_group() as group:
        for index, attempt in enumerate(attempts):
            group.start_soon(one, index, attempt)
    return results


async def test_of_identical_submissions_from_two_processes_one_is_sent(
    history: History, other: History
) -> None:
    for round_ in range(20):
        key = DedupeKey(f"fingerprint-{round_}")
        first = Submission("agent", f"id:p{round_}", dedupe=key)
        second = Submission("agent", f"id:p{round_}", dedupe=key)
        outcomes = await race(
            history.submissions.begin(ALICE, first), other.submissions.begin(ALICE, second)
        )
        refused = [o for o in outcomes if isinstance(o, DuplicateSubmissionError)]
        assert len(refused) == 1, outcomes
        assert outcomes.count(None) == 1


async def test_a_job_is_claimed_by_one_submission_only(history: History, other: History) -> None:
    for round_ in range(20):
        mine = Submission("agent", "id:p")
        theirs = Submission("agent", "id:p")
        await history.submissions.begin(ALICE, mine)
        await other.submissions.begin(ALICE, theirs)
        won = await race(
            history.submissions.claim(mine, f"job-{round_}"),
            other.submissions.claim(theirs, f"job-{round_}"),
        )
        assert sorted(won, key=str) == [False, True]
    assert await other.submissions.claimed([f"job-{n}" for n in range(25)]) == {
        f"job-{n}" for n in range(20)
    }


async def _granted(history: History, grant_id: str, code: str) -> None:
    await history.grants.create_grant(
        Grant(grant_id, "client", ALICE, "Drive", b"sealed", "2026-11-30T00:00:00"),
        CodeRecord(
            digest(code),
            grant_id,
            "client",
            "https://app/cb",
            True,
            "challenge",
            (),
            "res",
            time.time() + 300,
        ),
    )


def _token(secret: str, kind: str, grant_id: str) -> TokenRecord:
    return TokenRecord(
        digest(secret),
        "access" if kind == "access" else "refresh",
        grant_id,
        "client",
        (),
        "res",
        time.time() + 3600,
    )


async def test_a_code_works_once_and_a_refresh_token_rotates_once(
    history: History, other: History
) -> None:
    for round_ in range(10):
        grant_id, code = f"grant-{round_}", f"code-{round_}"
        await _granted(history, grant_id, code)
        used = await race(
            history.grants.use_code(digest(code), time.time()),
            other.grants.use_code(digest(code), time.time()),
        )
        assert sorted(used, key=str) == [False, True]
        refresh = f"refresh-{round_}"
        await history.grants.issue(_token(refresh, "refresh", grant_id))
        rotated = await race(
            history.grants.rotate(
                digest(refresh), time.time(), _token(f"a1-{round_}", "access", grant_id)
            ),
            other.grants.rotate(
                digest(refresh), time.time(), _token(f"a2-{round_}", "access", grant_id)
            ),
        )
        assert sorted(rotated, key=str) == [False, True]
        issued = [await history.grants.token(digest(f"a{n}-{round_}"), "access") for n in (1, 2)]
        assert sum(token is not None for token in issued) == 1


async def test_revoking_a_grant_wipes_its_token_and_ends_its_codes_and_tokens(
    history: History, other: History
) -> None:
    await _granted(history, "g", "c")
    await history.grants.issue(_token("a", "access", "g"), _token("r", "refresh", "g"))
    assert await other.grants.revoke_grant("g", "2026-11-30T01:00:00")
    assert not await history.grants.revoke_grant("g", "2026-11-30T02:00:00")
    grant = await history.grants.grant("g")
    assert grant is not None
    assert grant.sealed_token is None
    assert grant.revoked_at == "2026-11-30T01:00:00"
    assert not await history.grants.use_code(digest("c"), time.time())
    access = await history.grants.token(digest("a"), "access")
    assert access is not None
    assert access.revoked
    (summary,) = await history.grants.grants()
    assert summary.live_tokens == 0


async def test_sign_ins_are_bounded_and_forgotten_when_expired(
    history: History, other: History
) -> None:
    now = time.time()

    def sign_in(name: str, expires: float) -> SignIn:
        return SignIn(name, "client", "{}", "csrf", expires)

    opened = await race(
        *(history.grants.open_sign_in(sign_in(f"s{n}", now + 600), now, 5) for n in range(4)),
        *(other.grants.open_sign_in(sign_in(f"t{n}", now + 600), now, 5) for n in range(4)),
    )
    assert opened.count(True) == 5
    assert await history.grants.bind_browser("s0", "browser") or await history.grants.bind_browser(
        "t0", "browser"
    )
    assert await other.grants.open_sign_in(sign_in("old", now - 1), now - 10, 100)
    assert await history.grants.forget_expired(now, "2000-01-01T00:00:00+00:00") == 1
    assert await history.grants.sign_in("old") is None


async def test_a_budget_lets_its_allowance_through_from_two_processes_at_once(
    history: History, other: History
) -> None:
    now = time.time()
    per_address, everyone = Budget("test/address", 5, 60.0), Budget("test/all", 8, 60.0)
    outcomes = await race(
        *(
            store.budgets.spend(now, Spend(per_address, "192.0.2.1"), Spend(everyone, "all"))
            for store in (history, other)
            for _ in range(16)
        )
    )
    assert outcomes.count(None) == 5
    refusals = [o for o in outcomes if isinstance(o, Refusal)]
    assert len(refusals) == 27
    assert {r.budget for r in refusals} == {per_address}
    assert all(0 < r.wait <= 60 for r in refusals)
    # A refused attempt was charged to no budget: three are left for everyone else.
    others = [Spend(per_address, f"192.0.2.{n}") for n in range(2, 6)]
    granted = [await other.budgets.spend(now, spend, Spend(everyone, "all")) for spend in others]
    assert granted[:3] == [None] * 3
    assert isinstance(granted[3], Refusal)
    assert granted[3].budget == everyone
    # Past the window the allowance is back; old spends are dropped as new ones come.
    assert await history.budgets.spend(now + 61, Spend(per_address, "192.0.2.1")) is None
    assert await history.budgets.forget_before(now + 61) == 8


async def test_a_jobs_lease_has_one_holder_until_it_expires(
    history: History, other: History
) -> None:
    taken = await race(
        *(history.leases.take(ALICE, "job", "replica-a", 30) for _ in range(3)),
        *(other.leases.take(ALICE, "job", "replica-b", 30) for _ in range(3)),
    )
    holder = await history.leases.holder(ALICE, "job")
    assert holder in ("replica-a", "replica-b")
    assert taken.count(True) == 3  # the winner's own renewals succeed, the other's never
    assert await other.leases.take(ALICE, "job", holder, 30)  # renewed
    loser = "replica-b" if holder == "replica-a" else "replica-a"
    assert not await other.leases.take(ALICE, "job", loser, 30)
    assert await history.leases.take(ALICE, "expired", "replica-a", -1)
    assert await other.leases.take(ALICE, "expired", "replica-b", 30)  # its holder died
    await history.leases.release(ALICE, "expired", "replica-a")  # not its holder: no effect
    assert await history.leases.holder(ALICE, "expired") == "replica-b"


async def test_taking_a_lease_reads_the_jobs_record_whoever_wins(
    history: History, other: History
) -> None:
    from descript_mcp.client.models import JobCreated

    created = JobCreated(job_id="recorded", drive_id="d", project_id="p", project_url="u")
    await history.jobs.record_submitted(
        ALICE, created, job_type="publish", tool="publish", request={}
    )
    leads = await race(
        history.leases.take_and_read(ALICE, "recorded", "replica-a", 30),
        other.leases.take_and_read(ALICE, "recorded", "replica-b", 30),
    )
    assert all(isinstance(lead, Lead) for lead in leads)
    mine, theirs = cast(list[Lead], leads)
    assert sorted([mine.taken, theirs.taken]) == [False, True]
    for lead in (mine, theirs):
        assert lead.record is not None
        assert (lead.record.job_id, lead.record.state, lead.record.project_id) == (
            "recorded",
            "queued",
            "p",
        )
    holder = "replica-a" if mine.taken else "replica-b"
    assert await history.leases.holder(ALICE, "recorded") == holder
    # A job the history has no record of: its lease is taken all the same.
    lead = await other.leases.take_and_read(ALICE, "unrecorded", "replica-b", 30)
    assert lead.taken
    assert lead.record is None


async def test_orphaned_leases_are_split_between_replicas_taking_them_at_once(
    history: History, other: History
) -> None:
    bob = owner_of("bob-token")
    for n in range(40):
        assert await history.leases.take(ALICE, f"job-{n}", "dead-replica", -1)
    assert await history.leases.take(bob, "bobs", "dead-replica", -1)
    mine, theirs = await race(
        history.leases.take_orphans("replica-a", 30, [ALICE], limit=30),
        other.leases.take_orphans("replica-b", 30, [ALICE], limit=30),
    )
    assert isinstance(mine, list)
    assert isinstance(theirs, list)
    assert not set(mine) & set(theirs)
    assert set(mine) | set(theirs) == {(ALICE, f"job-{n}") for n in range(40)}
    # Only the owners whose tokens a replica has: Bob's job waits for a replica that has his.
    assert await history.leases.holder(bob, "bobs") is None


async def test_a_change_is_announced_with_its_record_and_only_a_change(
    history: History, other: History
) -> None:
    """Replicas hear of a change by the notification its record sends when committed: one per
    change, none for a reading that changes nothing. SQLite has no one to tell, and says so."""
    from datetime import UTC, datetime

    from descript_mcp.client.models import JobProgress, PublishJob

    def running(percent: int) -> PublishJob:
        return PublishJob(
            job_id="announced",
            job_type="publish",
            job_state="running",
            created_at=datetime.now(UTC),
            drive_id="d",
            progress=JobProgress(label="Rendering", percent=percent),
        )

    announce = Notification("descript_mcp_test", "announced changed")
    database = history.database
    if not isinstance(database, PostgresDatabase):
        with pytest.raises(ValueError, match="only PostgreSQL announces"):
            await history.jobs.record_job(ALICE, running(10), announce)
        return
    heard: list[tuple[str, str]] = []
    async with database.listening(announce.channel, name="test") as notices:
        # The second reading is the same, from another replica: recorded, and no change.
        for recorder, percent in ((history, 10), (other, 10), (other, 50)):
            await recorder.jobs.record_job(ALICE, running(percent), announce)
        with anyio.move_on_after(1):  # two come at once; a third must not come at all
            async for notice in notices:
                heard.append(notice)
    assert heard == [tuple(announce)] * 2


async def test_two_processes_reading_one_job_at_once_record_one_event(
    history: History, other: History
) -> None:
    from datetime import UTC, datetime

    from descript_mcp.client.models import JobCreated, JobProgress, PublishJob

    for round_ in range(10):
        job_id = f"shared-{round_}"
        created = JobCreated(job_id=job_id, drive_id="d", project_id="p", project_url="u")
        await history.jobs.record_submitted(
            ALICE, created, job_type="publish", tool="publish", request={}
        )
        running = PublishJob(
            job_id=job_id,
            job_type="publish",
            job_state="running",
            created_at=datetime.now(UTC),
            drive_id="d",
            progress=JobProgress(label="Rendering", percent=50),
        )
        changed = await race(
            history.jobs.record_job(ALICE, running), other.jobs.record_job(ALICE, running)
        )
        assert sorted(changed, key=str) == [False, True]
        events = await other.jobs.events(ALICE, job_id)
        assert [(e["state"], e["percent"]) for e in events] == [("queued", None), ("running", 50)]


async def test_a_job_ends_once_whoever_reads_its_end_and_however_it_is_worded(
    history: History, other: History
) -> None:
    """A job's end read by two replicas (a poll, a callback) with its last progress worded
    differently, or not at all: one end in the history."""
    from datetime import UTC, datetime

    from descript_mcp.client.models import JobCreated, JobProgress, PublishJob

    job_id = "ends-once"
    created = JobCreated(job_id=job_id, drive_id="d", project_id="p", project_url="u")
    await history.jobs.record_submitted(
        ALICE, created, job_type="publish", tool="publish", request={}
    )

    def stopped(progress: JobProgress | None) -> PublishJob:
        return PublishJob(
            job_id=job_id,
            job_type="publish",
            job_state="stopped",
            created_at=datetime.now(UTC),
            drive_id="d",
            progress=progress,
        )

    assert await history.jobs.record_job(ALICE, stopped(JobProgress(label="Done", percent=100)))
    assert not await other.jobs.record_job(ALICE, stopped(None))
    events = await other.jobs.events(ALICE, job_id)
    assert [e["state"] for e in events] == ["queued", "stopped"]


async def test_a_live_access_token_is_found_with_its_grant_until_revoked_or_expired(
    history: History, other: History
) -> None:
    await _granted(history, "g", "c")
    await history.grants.issue(_token("a", "access", "g"))
    found = await other.grants.live_access(digest("a"), time.time())
    assert found is not None
    token, grant = found
    assert (token.grant_id, grant.grant_id, grant.owner) == ("g", "g", ALICE)
    assert grant.sealed_token == b"sealed"
    assert await other.grants.live_access(digest("a"), time.time() + 7200) is None  # expired
    assert await other.grants.live_access(digest("other"), time.time()) is None
    await history.grants.revoke_grant("g", "2026-11-30T03:00:00")
    assert await other.grants.live_access(digest("a"), time.time()) is None
