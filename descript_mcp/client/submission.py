"""Submitting a job-creating request exactly once, with other clients on the same drive.

Descript has no idempotency key. After a 5xx or a timeout on a job-creating POST the job may or
may not exist, and sending again could pay twice; so the request is never sent again. Instead
its job is looked for, and claimed only on proof that it is this submission's
(`recovery.Recovery`). Every submission is written to a ledger before it is sent, so that the
others sharing it (calls, processes, replicas) see it in flight. A job is cancelled only when
proven to be this submission's.

A dedupe key guards against the same submission twice in a row (a caller that retries after a
timeout): the same key within its window of one accepted, in flight or unconfirmed is refused
with DuplicateSubmissionError naming the earlier one.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any, TypeVar

from pydantic import BaseModel

from descript_mcp.client.http import RequestSender
from descript_mcp.client.ledger import DedupeKey, Submission, SubmissionLedger
from descript_mcp.client.models import Job
from descript_mcp.client.parsing import parse_model
from descript_mcp.client.recovery import Lookups, Recovery, Target
from descript_mcp.client.retry import may_have_created
from descript_mcp.errors import APIError, UnconfirmedSubmissionError, UploadURLsLostError

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

# Jobs accepted lately whose sending and answer are remembered: a look at the job list that
# shows one of them reads Descript's clock off its `created_at`.
REMEMBERED = 1000


class Submitter:
    """Sends job-creating requests exactly once, through a client and its ledger."""

    def __init__(self, client: Lookups, sender: RequestSender, ledger: SubmissionLedger) -> None:
        self._client = client
        self._sender = sender
        self._ledger = ledger
        # Job id -> when its request was sent and answered, on our clock.
        self._accepted: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def submit(
        self,
        path: str,
        body: dict[str, Any],
        model: type[M],
        target: Target,
        dedupe: DedupeKey | None = None,
    ) -> M:
        submission = Submission(target.job_type, target.key, dedupe)
        await self._ledger.begin(submission)
        try:
            response = await self._sender.send("POST", path, idempotent=False, json=body)
            created = parse_model(model, response)
        except APIError as error:
            submission.ended_at = time.time()
            if not may_have_created(error):
                submission.state = "failed"
                await self._settle(submission)
                raise
            return model.model_validate(await self._recover(error, path, submission, target))
        submission.state, submission.ended_at = "accepted", time.time()
        submission.job_id = getattr(created, "job_id", None)
        if submission.job_id is not None:
            self._accepted[submission.job_id] = submission.sent_at, submission.ended_at
            while len(self._accepted) > REMEMBERED:
                self._accepted.popitem(last=False)
        await self._settle(submission)
        return created

    async def _settle(self, submission: Submission) -> None:
        """Record a submission's outcome. If the ledger fails, the outcome still reaches the
        caller; the ledger then keeps it as "sending", which others read as unknown too."""
        try:
            await self._ledger.settle(submission)
        except Exception:
            logger.exception(
                "could not record submission %s as %s", submission.id, submission.state
            )

    async def _recover(
        self, error: APIError, path: str, submission: Submission, target: Target
    ) -> dict[str, Any]:
        """The 201 answer the failed request would have had, rebuilt from the job list."""
        logger.warning("%s failed ambiguously (%s); looking for the job", path, error.message)
        recovery = Recovery(
            self._client, self._sender, self._ledger, submission, target, self._accepted
        )
        try:
            job = await recovery.find(error, path)
        except UnconfirmedSubmissionError:
            await self._settle(submission)  # unconfirmed, with the jobs named
            raise
        logger.warning("job %s is the one the failed %s created", job.job_id, path)
        if target.needs_upload_urls:
            raise await self._cancel_lost_uploads(error, path, job)
        answer: dict[str, Any] = {"job_id": job.job_id, "drive_id": job.drive_id}
        if not target.drive_wide:
            answer |= {"project_id": job.project_id or "", "project_url": job.project_url or ""}
        return answer | dict(target.echo)

    async def _cancel_lost_uploads(self, error: APIError, path: str, job: Job) -> APIError:
        """The import is this request's but can never receive its files: cancel it."""
        try:
            await self._client.cancel_job(job.job_id)
        except APIError as problem:
            return UploadURLsLostError(
                f"Descript created import {job.job_id} for this request, but the answer with "
                f"its upload URLs was lost ({error.message}), and cancelling it failed "
                f"({problem.message}): cancel {job.job_id}, then submit the import again.",
                method="POST",
                path=path,
                cause=error,
                job=job,
                cancelled=False,
            )
        return UploadURLsLostError(
            f"Descript created import {job.job_id} for this request, but the answer with its "
            f"upload URLs was lost ({error.message}). The import was cancelled, as it could "
            "never receive its files: submitting it again is safe.",
            method="POST",
            path=path,
            cause=error,
            job=job,
            cancelled=True,
        )
