"""Following jobs: one poll loop per job, shared by every tool call that waits on it.

A loop keeps going after the waiting tool call returned (or was cancelled), so the history stays
current and subscribers hear when the job ends. It stops when the job does.

With replicas (`cluster.py`), a replica polls a job only while it holds the job's lease; the
others watch the history, woken by the changes the leader announces. A replica that stops
(`drain`) hands its leases over and watches until it is gone.

A follower outlives what passes: Descript failing, the history's database unreachable (both
retried, pausing longer each time), even an error of its own (it starts over, a few times).
"""

from __future__ import annotations

import contextvars
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskGroup

from descript_mcp.client.waiter import PollSchedule, ProgressUpdate, wait_for_job
from descript_mcp.errors import (
    APIConnectionError,
    DescriptError,
    HistoryUnavailableError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
)
from descript_mcp.history.jobs import JobStore, job_of
from descript_mcp.server.followed import Followed
from descript_mcp.server.notify import Notifier

if TYPE_CHECKING:
    from descript_mcp.client.api import DescriptClient
    from descript_mcp.client.models import Job
    from descript_mcp.history.records import JobRecord
    from descript_mcp.server.cluster import Cluster

logger = logging.getLogger(__name__)

# A job still running after this long is left alone until someone asks about it again.
FOLLOW_AT_MOST = 6 * 3600.0
# Failures that pass: the follower waits (doubling from the first pause) and reads again.
TRANSIENT = (
    ServerError,
    APIConnectionError,
    ResponseFormatError,
    RateLimitError,
    HistoryUnavailableError,
)
RETRY_FIRST, RETRY_MOST = 0.5, 30.0
# The history's database is back within seconds (a restart, a failover), or down for everyone:
# it is tried again at least this often.
HISTORY_RETRY_MOST = 4.0
# A follower that fails unexpectedly starts over, at most this many times in a row.
RESTARTS_AT_MOST = 3
# Answers about a job that cannot be read, in a row, before following it is given up.
UNREADABLE_AT_MOST = 5
# Jobs seen to end, kept to answer without a request: a stopped or cancelled job never changes,
# but a publish's download link expires, and one about to is read again.
ENDED_KEPT = 2_000
LINK_MARGIN = timedelta(minutes=5)


class JobTracker:
    def __init__(
        self,
        jobs: JobStore,
        notifier: Notifier,
        schedule: PollSchedule | None = None,
        cluster: Cluster | None = None,
    ) -> None:
        self.jobs = jobs
        self.notifier = notifier
        self.schedule = schedule or PollSchedule()
        self.cluster = cluster
        self._task_group: TaskGroup | None = None
        self._followed: dict[tuple[str, str], Followed] = {}
        self._ended: OrderedDict[tuple[str, str], Job] = OrderedDict()
        self.draining = False

    def attach(self, task_group: TaskGroup) -> None:
        self._task_group = task_group

    def follow(self, owner: str, client: DescriptClient, job_id: str) -> Followed:
        """The shared follower of this owner's job, started if none is running."""
        key = (owner, job_id)
        followed = self._followed.get(key)
        ended = self._ended.get(key)
        if followed is None and ended is not None and _still_current(ended):
            update = ProgressUpdate(job_id, ended.job_state, None, None, 0.0, ended)
            return Followed(job_id, owner, latest=update, done=True)
        if followed is None:
            if self._task_group is None:
                raise RuntimeError("the job tracker is not running")
            followed = self._followed[key] = Followed(job_id, owner)
            # In a context of its own: the follower outlives the request that started it, and
            # neither its trace nor its id belongs to it.
            contextvars.Context().run(self._task_group.start_soon, self._run, followed, client)
        return followed

    def take(self, owner: str, client: DescriptClient, job_id: str) -> None:
        """This replica took the job's lease over: follow it, leading at once."""
        followed = self.follow(owner, client, job_id)
        if not followed.done and not followed.leading:
            followed.lead_now()

    def followed(self) -> list[Followed]:
        """The jobs followed now."""
        return list(self._followed.values())

    def drain(self) -> None:
        """The replica stops: hand every lease over at once (the followers watch from now
        on), and end the waits of calls with what is known."""
        self.draining = True
        if self.cluster is not None:
            self.cluster.draining = True
        for followed in self._followed.values():
            if followed.leadership is not None:
                followed.leadership.cancel()
            followed.signal()

    async def _run(self, followed: Followed, client: DescriptClient) -> None:
        restarts = 0
        pause = RETRY_FIRST
        try:
            with followed.polling:  # cancelled when a confirmed callback says the job ended
                while True:
                    began = anyio.current_time()
                    try:
                        if self.cluster is None:
                            await self._poll(followed, client)
                        else:
                            await self._lead_or_watch(followed, client, self.cluster)
                        return
                    except HistoryUnavailableError as error:  # the database is back soon
                        followed.error = error
                    except Exception:  # never fatal: the job is followed again, a few times
                        logger.exception("following %s failed", followed.job_id)
                        restarts += 1
                        followed.error = DescriptError(
                            f"Following job {followed.job_id} failed on this server; call "
                            "get_job again to read it."
                        )
                        if restarts > RESTARTS_AT_MOST:
                            return
                    followed.signal()
                    if anyio.current_time() - began > RETRY_MOST:  # it ran well for a while
                        pause = RETRY_FIRST
                    await anyio.sleep(pause)
                    pause = min(pause * 2, _longest_pause(followed.error))
        finally:
            followed.done = True
            self._followed.pop((followed.owner, followed.job_id), None)
            followed.signal()

    async def _lead_or_watch(
        self, followed: Followed, client: DescriptClient, cluster: Cluster
    ) -> None:
        """Poll while this replica holds the job's lease (read first: a leader that ended the
        job freed it); watch the history while another does, in case its holder died."""
        while True:
            lead = await cluster.lead(followed.owner, followed.job_id)
            if lead.taken:
                if self._take_record(followed, lead.record) or await self._lead(
                    followed, client, cluster
                ):
                    with anyio.CancelScope(shield=True):
                        await cluster.release(followed.owner, followed.job_id)
                    return
            elif await self._watch(followed, cluster.ttl / 2):
                return

    async def _lead(self, followed: Followed, client: DescriptClient, cluster: Cluster) -> bool:
        """Poll the job while the lease holds: True once following it is over, False if the
        lease was lost or handed over. A renewal the database does not answer is tried again
        while the lease surely holds."""
        ended = False

        async def renew(polling: anyio.CancelScope) -> None:
            held_until = anyio.current_time() + cluster.ttl
            while True:
                await anyio.sleep(cluster.ttl / 3)
                try:
                    if not await cluster.renew(followed.owner, followed.job_id):
                        break
                    held_until = anyio.current_time() + cluster.ttl
                except TRANSIENT:
                    if anyio.current_time() + cluster.ttl / 3 >= held_until:
                        break  # it may lapse before the next try: stop before another polls
            polling.cancel()

        followed.leading = True
        try:
            async with anyio.create_task_group() as group:
                followed.leadership = group.cancel_scope
                group.start_soon(renew, group.cancel_scope)
                await self._poll(followed, client)
                ended = True
                group.cancel_scope.cancel()
        finally:
            followed.leading, followed.leadership = False, None
        return ended

    async def _watch(self, followed: Followed, seconds: float) -> bool:
        """Follow the job through the history for `seconds`: True if it ended meanwhile."""
        with anyio.move_on_after(seconds):
            while True:
                heard = followed.heard
                if await self._read_back(followed):
                    return True
                if followed.lease_taken:
                    followed.lease_taken = False
                    return False
                await heard.wait()
        return False

    async def _read_back(self, followed: Followed) -> bool:
        """Take the job's latest record as a reading; True if the job has ended."""
        return self._take_record(followed, await self.jobs.get(followed.owner, followed.job_id))

    def _take_record(self, followed: Followed, record: JobRecord | None) -> bool:
        """Take the job's record, if it has one, as a reading; True if the job has ended."""
        if record is None:
            return False
        job = job_of(record)
        if followed.take_recorded(job) and job.is_terminal:
            self._remember_ended(followed.owner, job)
        return job.is_terminal

    def heard(self, owner: str, job_id: str) -> None:
        """Another replica recorded a change of this job: its watcher reads it, and a leader
        learns of an end seen elsewhere (a callback) without waiting for its next poll."""
        followed = self._followed.get((owner, job_id))
        if followed is None:
            return
        if not followed.leading:
            followed.hear()  # its watcher reads the record
        elif self._task_group is not None:
            self._task_group.start_soon(self._end_if_recorded, followed)

    async def _end_if_recorded(self, followed: Followed) -> None:
        try:
            if not followed.done and await self._read_back(followed):
                followed.polling.cancel()
        except HistoryUnavailableError as error:  # its leader's next poll sees the end anyway
            logger.info("reading %s back failed: %s", followed.job_id, error)

    async def _poll(self, followed: Followed, client: DescriptClient) -> None:
        deadline = anyio.current_time() + FOLLOW_AT_MOST
        pause = RETRY_FIRST
        unreadable = 0
        while True:
            try:
                await wait_for_job(
                    client,
                    followed.job_id,
                    max_wait=max(0.0, deadline - anyio.current_time()),
                    schedule=self.schedule,
                    on_progress=lambda update: self._update(followed, update),
                    between_polls=followed.until_next_poll,
                )
                return
            except TRANSIENT as error:  # Descript will answer again: keep following
                followed.error = error
                followed.signal()
                unreadable = unreadable + 1 if isinstance(error, ResponseFormatError) else 0
                if unreadable >= UNREADABLE_AT_MOST:
                    await self._give_up(followed, error)
                    return
                if anyio.current_time() + pause > deadline:
                    return
                logger.info("following %s: %s; again in %.1fs", followed.job_id, error, pause)
                await anyio.sleep(pause)
                pause = min(pause * 2, _longest_pause(error))
            except DescriptError as error:  # 401, 403, 404: following cannot succeed
                followed.error = error
                return

    async def _give_up(self, followed: Followed, error: DescriptError) -> None:
        """Stop following a job whose answers cannot be read, saying why, in the history too."""
        why = (
            f"Stopped following: {UNREADABLE_AT_MOST} answers about it in a row could not be "
            f"read ({error}). Call get_job to read it again."
        )
        logger.warning("job %s: %s", followed.job_id, why)
        followed.error = DescriptError(why)
        with anyio.CancelScope(shield=True):
            await self.jobs.note(followed.owner, followed.job_id, why)

    async def _update(self, followed: Followed, update: ProgressUpdate) -> None:
        followed.latest, followed.error = update, None
        with anyio.CancelScope(shield=True):  # a job's end is recorded even during shutdown
            await self._record_followed(followed.owner, update.job)
        followed.signal()

    async def _record_followed(self, owner: str, job: Job) -> None:
        """A reading from following the job (a poll or a confirmed callback): recorded, and an
        ended job kept to answer later readers without a request."""
        if job.is_terminal:
            self._remember_ended(owner, job)
        await self.record(owner, job)

    async def record(self, owner: str, job: Job) -> None:
        """Store a reading of the owner's job; if it changed anything, tell its subscribers,
        on every replica."""
        announce = self.cluster.announcement(owner, job.job_id) if self.cluster else None
        if await self.jobs.record_job(owner, job, announce):
            await self.notifier.job_changed(owner, job.job_id)

    async def observe(self, owner: str, job: Job) -> None:
        """A confirmed reading of a job from elsewhere (a callback): record it, tell waiters,
        and stop polling a job that has ended."""
        followed = self._followed.get((owner, job.job_id))
        if followed is None:
            await self._record_followed(owner, job)
            return
        update = ProgressUpdate(job.job_id, job.job_state, None, None, 0.0, job)
        await self._update(followed, update)
        if job.is_terminal:
            followed.polling.cancel()

    def owners(self) -> set[str]:
        """Whose jobs this replica follows."""
        return {owner for owner, _ in self._followed}

    def stop_following(self, owner: str, why: str) -> list[str]:
        """Stop following this owner's jobs (their token may no longer be used); those that
        were followed. Waiting calls are told `why`."""
        stopped = [f for (whose, _), f in self._followed.items() if whose == owner]
        for followed in stopped:
            followed.error = DescriptError(why)
            followed.polling.cancel()
        return [f.job_id for f in stopped]

    def _remember_ended(self, owner: str, job: Job) -> None:
        self._ended[(owner, job.job_id)] = job
        self._ended.move_to_end((owner, job.job_id))
        while len(self._ended) > ENDED_KEPT:
            self._ended.popitem(last=False)

    async def wait(
        self,
        followed: Followed,
        max_wait: float,
        on_update: Callable[[ProgressUpdate], Awaitable[None]],
    ) -> bool:
        """Pass each new update to `on_update` until the job ends or `max_wait` passes; True
        if the wait was cut short because the server is stopping.

        Always waits for the first answer about the job, even with `max_wait` 0.
        """
        deadline = anyio.current_time() + max_wait
        reported: ProgressUpdate | None = None
        followed.refresh_if_stale()
        while True:
            changed = followed.changed
            if followed.latest is not None and followed.latest is not reported:
                reported = followed.latest
                await on_update(reported)
            if followed.done or (reported is not None and reported.job.is_terminal):
                return False
            remaining = deadline - anyio.current_time()
            # Without any answer yet, wait for one; unless the follower is failing meanwhile.
            bounded = reported is not None or followed.error is not None
            if bounded and remaining <= 0:
                return False
            if bounded and self.draining:  # the caller asks again, of another replica
                return True
            with anyio.move_on_after(remaining if bounded else None):
                await changed.wait()


def _longest_pause(error: DescriptError | None) -> float:
    return HISTORY_RETRY_MOST if isinstance(error, HistoryUnavailableError) else RETRY_MOST


def _still_current(job: Job) -> bool:
    """A job that ended is final, but for a publish's download link, which expires."""
    result = getattr(job, "result", None)
    expires = getattr(result, "download_url_expires_at", None)
    return expires is None or expires - LINK_MARGIN > datetime.now(UTC)
