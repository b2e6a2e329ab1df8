"""Replicas sharing a PostgreSQL history: exactly one follows each running job, and every one
hears of every change.

A replica follows a job only while it holds the job's lease (`history/leases.py`), renewing it
as it polls; the others watch the history instead. Each change recorded is announced with
PostgreSQL's NOTIFY, so subscribers and waiting calls on any replica hear of it. When a replica
dies, its leases expire and the others take them over, for the owners whose tokens they hold;
a replica that stops on purpose hands its leases over at once and says so, and the others take
them on hearing it.

The database may restart or drop a connection at any moment: every loop here outlives that,
reconnecting with backoff, and says meanwhile whether this replica can serve (`ready_parts`).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection
from contextlib import suppress
from typing import TYPE_CHECKING

import anyio
from psycopg import Error as DatabaseError

from descript_mcp.errors import HistoryUnavailableError
from descript_mcp.history import History
from descript_mcp.history.backends.postgres import PostgresDatabase
from descript_mcp.history.database import Notification
from descript_mcp.history.leases import Lead, LeaseStore

if TYPE_CHECKING:
    from descript_mcp.client.api import DescriptClient
    from descript_mcp.server.notify import Notifier

# What the cluster asks of the server: hear of a job changed elsewhere, follow a job whose
# lease this replica took, whose tokens it holds, and a client of one of those.
Heard = Callable[[str, str], None]
Take = Callable[[str, "DescriptClient", str], object]
Owners = Callable[[], Awaitable[Collection[str]]]
ClientOf = Callable[[str], Awaitable["DescriptClient | None"]]

logger = logging.getLogger(__name__)

CHANNEL = "descript_mcp_jobs"
# A replica stopping on purpose names itself here once its leases are free to take.
HANDOVER_CHANNEL = "descript_mcp_handover"
# A lease lasts this long unless renewed; its holder renews it three times as often, and the
# others look for expired ones as often: a dead replica's jobs move within about 4/3 of it.
LEASE_TTL = 6.0
# Pauses before listening again after a failure: doubling from the first to the longest.
RECONNECT_FIRST, RECONNECT_MOST = 0.2, 2.0
# How often the database is asked whether it answers, and for how long.
DATABASE_CHECKED_EVERY = 1.0
DATABASE_ANSWERS_WITHIN = 2.0
# Failures a loop here outlives: the database unreachable, or refusing a statement.
PASSING = (HistoryUnavailableError, DatabaseError, OSError)


class Cluster:
    def __init__(
        self, database: PostgresDatabase, leases: LeaseStore, ttl: float = LEASE_TTL
    ) -> None:
        self.database = database
        self.leases = leases
        self.ttl = ttl
        self.replica = uuid.uuid4().hex[:12]
        # Whether the database answered its last question, and the listener is listening.
        self.database_answers = True
        self.listening = False
        # Set when the replica stops: it leads no job from then on, handing each one over.
        self.draining = False
        self._look_now = anyio.Event()

    @classmethod
    def of(cls, history: History) -> Cluster:
        if not isinstance(history.database, PostgresDatabase):
            raise TypeError("replicas share a PostgreSQL history")
        return cls(history.database, history.leases, LEASE_TTL)

    def ready_parts(self) -> dict[str, bool]:
        """What this replica needs to serve, each true or not."""
        return {"database": self.database_answers, "listener": self.listening}

    async def lead(self, owner: str, job_id: str) -> Lead:
        """Take the job's lease, reading its record in the same round trip: taken while this
        replica is the one to poll it. While draining, the lease is handed over instead."""
        if await self._handed_over(owner, job_id):
            return Lead(taken=False, record=None)
        return await self.leases.take_and_read(owner, job_id, self.replica, self.ttl)

    async def renew(self, owner: str, job_id: str) -> bool:
        """Renew the job's lease: True while this replica still holds it (and is not
        draining, which hands it over instead)."""
        if await self._handed_over(owner, job_id):
            return False
        return await self.leases.take(owner, job_id, self.replica, self.ttl)

    async def _handed_over(self, owner: str, job_id: str) -> bool:
        """While draining, every lease asked for is handed over (said once a lease is free)."""
        if not self.draining:
            return False
        if await self.leases.hand_over(owner, job_id, self.replica):
            await self._send(HANDOVER_CHANNEL, self.replica)
        return True

    async def release(self, owner: str, job_id: str) -> None:
        """Free the lease of a job that ended; if the database cannot be reached, it lapses."""
        try:
            await self.leases.release(owner, job_id, self.replica)
        except PASSING as error:
            logger.warning("the lease of %s is left to lapse: %s", job_id, _why(error))

    def announcement(self, owner: str, job_id: str) -> Notification:
        """What tells the other replicas the job's record changed, sent with the change."""
        return Notification(CHANNEL, json.dumps([self.replica, owner, job_id]))

    async def _send(self, channel: str, payload: str) -> None:
        await self.database.notify(channel, payload)

    async def run(
        self,
        heard: Heard,
        take: Take,
        notifier: Notifier,
        owners: Owners,
        client_of: ClientOf,
    ) -> None:
        """Hear the other replicas' changes, take over the jobs of dead or stopping ones (of
        the owners whose tokens this replica holds), and keep asking the database whether it
        answers, for as long as the server runs."""
        async with anyio.create_task_group() as group:
            group.start_soon(self._listen, heard, notifier)
            group.start_soon(self._take_over, take, owners, client_of)
            group.start_soon(self._check_database)

    async def _listen(self, heard: Heard, notifier: Notifier) -> None:
        """Listen, and listen again at once when the connection drops (its backend ended, say):
        only when that fails too does this replica count as not listening, and try again with
        pauses. Changes missed meanwhile: watchers read the history again on their own."""
        pause = 0.0
        while True:
            try:
                name = f"listener {self.replica}"
                async with self.database.listening(CHANNEL, HANDOVER_CHANNEL, name=name) as notices:
                    self.listening, pause = True, 0.0
                    async for channel, payload in notices:
                        if channel == HANDOVER_CHANNEL:
                            if payload != self.replica:
                                self._look_now.set()
                        else:
                            await self._changed(payload, heard, notifier)
            except PASSING as error:
                logger.warning("listening for job changes failed (%s); again soon", _why(error))
                if pause:  # listening again failed as well
                    self.listening = False
            except BaseException:
                self.listening = False
                raise
            await anyio.sleep(pause)
            pause = min(max(pause * 2, RECONNECT_FIRST), RECONNECT_MOST)

    async def _changed(self, payload: str, heard: Heard, notifier: Notifier) -> None:
        """One announcement: a malformed one (anyone allowed to connect may NOTIFY) is logged
        and skipped, and one this replica cannot act on never stops the listener."""
        try:
            replica, owner, job_id = json.loads(payload)
            if not all(isinstance(part, str) for part in (replica, owner, job_id)):
                raise TypeError("not three strings")
        except (ValueError, TypeError):
            logger.warning("skipped a malformed notification (%d bytes)", len(payload))
            return
        if replica == self.replica:
            return
        try:
            heard(owner, job_id)
            await notifier.job_changed(owner, job_id)
        except Exception:
            logger.exception("telling of a change of %s failed", job_id)

    async def _take_over(self, take: Take, owners: Owners, client_of: ClientOf) -> None:
        while True:
            with anyio.move_on_after(self.ttl / 3):
                await self._look_now.wait()
            self._look_now = anyio.Event()
            if self.draining:
                continue
            try:
                known = await owners()
                taken = await self.leases.take_orphans(self.replica, self.ttl, list(known))
                for owner, job_id in taken:
                    client = await client_of(owner)
                    if client is None:  # its grant was revoked meanwhile: let it lapse
                        continue
                    logger.info("taking over job %s", job_id)
                    take(owner, client, job_id)
            except PASSING as error:
                logger.warning("taking over orphaned jobs failed (%s)", _why(error))

    async def _check_database(self) -> None:
        """Ask the database every second whether it answers, on a connection of its own (a
        pool busy serving calls must not make it look gone). When that connection fails, a new
        one is asked at once: only if it fails too has the database stopped answering."""
        name = f"heartbeat {self.replica}"
        while True:
            try:
                async with self.database.pinger(name) as ping:
                    while True:
                        with anyio.fail_after(DATABASE_ANSWERS_WITHIN):
                            await ping()
                        await self._answered(None)
                        await anyio.sleep(DATABASE_CHECKED_EVERY)
            except (*PASSING, TimeoutError) as error:
                if self.database_answers:
                    logger.info("the database's answer failed (%s); asking anew", _why(error))
            try:
                async with self.database.pinger(name) as ping:
                    with anyio.fail_after(DATABASE_ANSWERS_WITHIN):
                        await ping()
                continue  # the connection had failed, not the database
            except (*PASSING, TimeoutError) as error:
                await self._answered(error)
            await anyio.sleep(DATABASE_CHECKED_EVERY)

    async def _answered(self, error: BaseException | None) -> None:
        recovered = error is None and not self.database_answers
        if error is not None and self.database_answers:
            logger.warning("the database does not answer (%s)", _why(error))
        elif recovered:
            logger.warning("the database answers again")
        self.database_answers = error is None
        if recovered or error is not None:
            # Connections the database dropped are replaced before statements meet them.
            with anyio.move_on_after(DATABASE_ANSWERS_WITHIN), suppress(*PASSING):
                await self.database.check()


def _why(error: BaseException) -> str:
    """What went wrong, for the log: the database's own words when it gave any."""
    cause = error.__cause__ or error
    return str(cause).strip() or type(cause).__name__
