"""In the OAuth mode, a revoked grant's Descript token stops being used everywhere within
seconds: its client in this replica's pool is closed and its jobs' followers stop, and the jobs
are noted as no longer followed, with why.

A grant may be revoked by its app (RFC 7009), by this server (a code or refresh token played
back), in another replica, or by `descript-mcp auth revoke` in another process. So each
replica looks at the grant store every few seconds for the owners whose tokens it holds that
no longer have a live grant, and at once when a grant is revoked here.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import anyio

from descript_mcp.history.grant_store import GrantStore
from descript_mcp.history.jobs import JobStore
from descript_mcp.server.callers import ClientPool
from descript_mcp.server.tracker import JobTracker

logger = logging.getLogger(__name__)

CHECK_EVERY = 2.0


class RevocationWatch:
    def __init__(
        self,
        grants: GrantStore,
        jobs: JobStore,
        pool: ClientPool,
        tracker: JobTracker,
        own_owner: str | None,
    ) -> None:
        self.grants = grants
        self.jobs = jobs
        self.pool = pool
        self.tracker = tracker
        self.own_owner = own_owner  # the server's own token's: never a grant's to revoke
        self._revoked = anyio.Event()

    def revoked(self) -> None:
        """A grant was revoked in this process: look now."""
        self._revoked.set()

    async def run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as error:  # the history is away for a moment: look again
                logger.warning("looking for revoked grants failed (%s); again", error)
            with anyio.move_on_after(CHECK_EVERY):
                await self._revoked.wait()
            self._revoked = anyio.Event()

    async def sweep(self) -> set[str]:
        """End what this replica holds for owners without a live grant; those owners."""
        held = (set(self.pool.by_owner()) | self.tracker.owners()) - {self.own_owner}
        ended = held - await self.grants.live_owners(held)
        for owner in ended:
            await self.end(owner)
        return ended

    async def end(self, owner: str) -> None:
        at = datetime.now(UTC).isoformat(timespec="seconds")
        why = (
            f"No longer followed: the connection to Descript that started it was revoked "
            f"({at}). Connect again and call get_job to follow it."
        )
        # Followers first: cancelled before their client closes under them.
        followed = self.tracker.stop_following(owner, why)
        await self.pool.drop(owner)
        with anyio.CancelScope(shield=True):
            for job_id in {*followed, *await self.jobs.unfinished(owner)}:
                await self.jobs.note(owner, job_id, why)
        logger.info("a revoked grant's token is no longer used (%d jobs stopped)", len(followed))
