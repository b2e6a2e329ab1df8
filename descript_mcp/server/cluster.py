"""Replicas sharing a PostgreSQL history: exactly one follows each running job, and every one
hears of every change.

A replica follows a job only while it holds the job's lease (`history/leases.py`), renewing it
as it polls; the others watch the history instead. Each change recorded is announced with
PostgreSQL's NOTIFY, so subscribers and waiting calls on any replica hear of it. When a replica
dies, its leases expire and the others take them over, for the owners whose tokens they hold.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection
from typing import TYPE_CHECKING

import anyio
from psycopg import Error as DatabaseError

from descript_mcp.history import History
from descript_mcp.history.backends.postgres import PostgresDatabase
from descript_mcp.history.leases import LeaseStore

if TYPE_CHECKING:
    from descript_mcp.client.api import DescriptClient
    from descript_mcp.server.notify import Notifier

# What the cluster asks of the server: hear of a job changed elsewhere, follow a job, whose
# tokens it holds, and a client of one of those.
Heard = Callable[[str, str], None]
Follow = Callable[[str, "DescriptClient", str], object]
Owners = Callable[[], Awaitable[Collection[str]]]
ClientOf = Callable[[str], Awaitable["DescriptClient | None"]]

logger = logging.getLogger(__name__)

CHANNEL = "descript_mcp_jobs"
# A lease lasts this long unless renewed; its holder renews it three times as often, and the
# others look for expired ones as often: a dead replica's jobs move within about 4/3 of it.
LEASE_TTL = 6.0
RECONNECT_AFTER = 1.0


class Cluster:
    def __init__(
        self, database: PostgresDatabase, leases: LeaseStore, ttl: float = LEASE_TTL
    ) -> None:
        self.database = database
        self.leases = leases
        self.ttl = ttl
        self.replica = uuid.uuid4().hex[:12]

    @classmethod
    def of(cls, history: History) -> Cluster:
        if not isinstance(history.database, PostgresDatabase):
            raise TypeError("replicas share a PostgreSQL history")
        return cls(history.database, history.leases, LEASE_TTL)

    async def lead(self, owner: str, job_id: str) -> bool:
        """Take (or renew) the job's lease: True while this replica is the one to poll it."""
        return await self.leases.take(owner, job_id, self.replica, self.ttl)

    async def release(self, owner: str, job_id: str) -> None:
        await self.leases.release(owner, job_id, self.replica)

    async def announce(self, owner: str, job_id: str) -> None:
        await self.database.notify(CHANNEL, json.dumps([self.replica, owner, job_id]))

    async def run(
        self,
        heard: Heard,
        follow: Follow,
        notifier: Notifier,
        owners: Owners,
        client_of: ClientOf,
    ) -> None:
        """Hear the other replicas' changes, and take over the jobs of dead ones (of the
        owners whose tokens this replica holds), for as long as the server runs."""
        async with anyio.create_task_group() as group:
            group.start_soon(self._listen, heard, notifier)
            group.start_soon(self._take_over, follow, owners, client_of)

    async def _listen(self, heard: Heard, notifier: Notifier) -> None:
        while True:
            try:
                async for payload in self.database.listen(CHANNEL):
                    replica, owner, job_id = json.loads(payload)
                    if replica != self.replica:
                        heard(owner, job_id)
                        await notifier.job_changed(owner, job_id)
            except (DatabaseError, OSError) as error:
                # Changes missed meanwhile: watchers read the history again on their own.
                logger.warning("listening for job changes failed (%s); again", error)
            await anyio.sleep(RECONNECT_AFTER)

    async def _take_over(self, follow: Follow, owners: Owners, client_of: ClientOf) -> None:
        while True:
            await anyio.sleep(self.ttl / 3)
            try:
                known = await owners()
                taken = await self.leases.take_orphans(self.replica, self.ttl, list(known))
                for owner, job_id in taken:
                    client = await client_of(owner)
                    if client is None:  # its grant was revoked meanwhile: let it lapse
                        continue
                    logger.info("taking over job %s", job_id)
                    follow(owner, client, job_id)
            except (DatabaseError, OSError) as error:
                logger.warning("taking over orphaned jobs failed (%s)", error)
