"""The soak, smaller: jobs through the MCP server under every kind of injected fault, with a
teammate starting jobs on the same projects."""

from __future__ import annotations

import pytest

from bench.soak import run_soak

pytestmark = pytest.mark.anyio


async def test_nothing_is_lost_duplicated_leaked_or_retried_early_under_faults() -> None:
    report = await run_soak(jobs=80, concurrency=6, seed=7)
    assert report.jobs_run >= 60  # most calls start a job; some end in a clear error
    assert set(report.accepted_by_type) == {"import/project_media", "agent", "publish"}
    assert sum(report.faults.values()) > 40
    assert {kind.split()[0] for kind in report.faults} >= {
        "status",
        "latency",
        "drop",
        "malformed",
        "stuck",
    }
    assert report.lost == 0
    assert report.mismatches == []
    assert report.duplicates == 0
    assert report.without_result == 0
    assert report.token_leaks == 0
    assert report.retry_after_violations == 0
    assert report.teammate_jobs > 10
    # Taken for the server's only in the case README's "The limit" states, if ever.
    assert report.beyond_the_limit == 0
    assert report.others_cancelled == 0
