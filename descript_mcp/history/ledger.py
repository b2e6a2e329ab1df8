"""The submission ledger the server's clients write to: the history's, shared by every
process and replica that shares the history."""

from __future__ import annotations

from collections.abc import Collection

from descript_mcp.client.ledger import Submission
from descript_mcp.history.submissions import SubmissionStore


class HistoryLedger:
    """The submission ledger kept in the job history, for one owner's client: every process
    and replica sharing the history sees the submissions of all."""

    def __init__(self, submissions: SubmissionStore, owner: str) -> None:
        self._submissions = submissions
        self._owner = owner

    async def begin(self, submission: Submission) -> None:
        await self._submissions.begin(self._owner, submission)

    async def settle(self, submission: Submission) -> None:
        await self._submissions.settle(submission)

    async def claim(self, submission: Submission, job_id: str) -> bool:
        return await self._submissions.claim(submission, job_id)

    async def rivals(self, submission: Submission) -> list[Submission]:
        return await self._submissions.rivals(submission)

    async def claimed(self, job_ids: Collection[str]) -> set[str]:
        return await self._submissions.claimed(job_ids)

    async def cancelled(self, job_id: str) -> None:
        await self._submissions.cancel(job_id)
