"""The history in PostgreSQL, shared by every replica: psycopg 3 (async) and its connection
pool; append-only migrations, run on start by whichever replica takes the lock first.

A database that cannot be reached (restarting, failing over, the connection cut) raises
HistoryUnavailableError, which callers retry like any passing failure; the pool replaces the
connections it lost on its own."""

from __future__ import annotations

import re
import select
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import anyio
from psycopg import AsyncConnection, OperationalError
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from descript_mcp.errors import HistoryUnavailableError
from descript_mcp.history.database import ONE_END, Dialect, Params, Row, Statements
from descript_mcp.history.records import now

# Append-only: a released migration is never edited, only followed by a new one. Ids compared
# by range (completions) are in the "C" collation, so a prefix scan is a plain byte range.
MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "001_history",
        """
        CREATE TABLE jobs (
            job_id TEXT COLLATE "C" NOT NULL,
            owner TEXT NOT NULL,
            job_type TEXT NOT NULL,
            tool TEXT,
            request_json TEXT,
            project_id TEXT COLLATE "C",
            project_url TEXT,
            drive_id TEXT,
            state TEXT NOT NULL,
            progress_label TEXT,
            progress_percent DOUBLE PRECISION,
            result_json TEXT,
            created_at TEXT NOT NULL,
            stopped_at TEXT,
            updated_at TEXT NOT NULL,
            note TEXT,
            download_url TEXT,
            download_expires_at TEXT,
            PRIMARY KEY (owner, job_id)
        );
        CREATE INDEX jobs_by_owner ON jobs (owner, created_at DESC);
        CREATE INDEX jobs_by_project ON jobs (owner, project_id);
        CREATE INDEX jobs_by_link_expiry ON jobs (download_expires_at)
            WHERE download_url IS NOT NULL;
        CREATE TABLE job_events (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            owner TEXT NOT NULL,
            job_id TEXT NOT NULL,
            at TEXT NOT NULL,
            state TEXT NOT NULL,
            progress_label TEXT,
            progress_percent DOUBLE PRECISION
        );
        CREATE INDEX job_events_by_job ON job_events (owner, job_id, id);
        CREATE TABLE submissions (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            job_type TEXT NOT NULL,
            project_key TEXT,
            fingerprint TEXT,
            state TEXT NOT NULL,
            job_id TEXT,
            candidates_json TEXT,
            sent_at DOUBLE PRECISION NOT NULL,
            ended_at DOUBLE PRECISION
        );
        CREATE INDEX submissions_by_project ON submissions (job_type, project_key, sent_at);
        CREATE INDEX submissions_by_fingerprint ON submissions (fingerprint, sent_at);
        CREATE INDEX submissions_by_job ON submissions (job_id);
        CREATE INDEX submissions_by_owner ON submissions (owner, state, sent_at);
        CREATE TABLE oauth_clients (
            client_id TEXT PRIMARY KEY,
            info_json TEXT NOT NULL,
            sealed_secret BYTEA,
            registered_at TEXT NOT NULL
        );
        CREATE TABLE oauth_sign_ins (
            request_id TEXT PRIMARY KEY,
            client_id TEXT NOT NULL,
            params_json TEXT NOT NULL,
            csrf TEXT NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            browser TEXT,
            sealed_token BYTEA,
            owner TEXT,
            drive_name TEXT
        );
        CREATE TABLE oauth_grants (
            grant_id TEXT PRIMARY KEY,
            client_id TEXT NOT NULL,
            owner TEXT NOT NULL,
            drive_name TEXT,
            sealed_token BYTEA,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        );
        CREATE INDEX oauth_grants_by_client ON oauth_grants (client_id);
        CREATE TABLE oauth_codes (
            code_hash TEXT PRIMARY KEY,
            grant_id TEXT NOT NULL,
            client_id TEXT NOT NULL,
            redirect_uri TEXT NOT NULL,
            redirect_uri_explicit INTEGER NOT NULL,
            code_challenge TEXT NOT NULL,
            scopes_json TEXT NOT NULL,
            resource TEXT NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            used_at DOUBLE PRECISION
        );
        CREATE TABLE oauth_tokens (
            token_hash TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            grant_id TEXT NOT NULL,
            client_id TEXT NOT NULL,
            scopes_json TEXT NOT NULL,
            resource TEXT NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            used_at DOUBLE PRECISION,
            revoked INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX oauth_tokens_by_grant ON oauth_tokens (grant_id);
        """,
    ),
    (
        "002_job_leases",
        """
        CREATE TABLE job_leases (
            owner TEXT NOT NULL,
            job_id TEXT NOT NULL,
            holder TEXT NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (owner, job_id)
        );
        CREATE INDEX job_leases_by_expiry ON job_leases (expires_at);
        """,
    ),
    (
        "003_jobs_newest_first",
        """
        CREATE INDEX jobs_newest_first ON jobs (owner, created_at DESC, job_id DESC);
        DROP INDEX jobs_by_owner;
        """,
    ),
    (
        "004_anonymous_bounds",
        """
        CREATE TABLE budget_spends (
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX budget_spends_by_key ON budget_spends (kind, key, at);
        CREATE INDEX budget_spends_by_age ON budget_spends (kind, at);
        CREATE INDEX oauth_sign_ins_by_expiry ON oauth_sign_ins (expires_at);
        CREATE INDEX oauth_clients_by_age ON oauth_clients (registered_at);
        CREATE INDEX oauth_grants_by_owner ON oauth_grants (owner);
        """,
    ),
    (
        "005_one_end",
        ONE_END,
    ),
)
# Held while migrating, so replicas starting together migrate once.
MIGRATION_LOCK = 7_235_016_001
# The longest a statement waits for a connection of the pool, and a new connection to open:
# past it the database counts as unreachable.
CONNECTION_WAIT = 10.0
CONNECT_TIMEOUT = 5
# How its connections are named in pg_stat_activity (those outside the pool say what for).
APPLICATION = "descript-mcp"
# A listening connection quiet this long is asked a question, so one cut without a word (a
# dropped network, a failover) is noticed; an answer is awaited this long.
LISTENER_CHECKED_EVERY = 5.0
LISTENER_ANSWERS_WITHIN = 5.0
UNREACHABLE = (
    "The job history's database could not be reached (it is restarting, or the connection was "
    "cut). Retry in a few seconds."
)
_PLACEHOLDER = re.compile(r"\?|:(\w+)|%")


@lru_cache(maxsize=512)
def pyformat(sql: str) -> str:
    """SQLite's placeholders (`?`, `:name`) as psycopg's (`%s`, `%(name)s`)."""

    def swap(found: re.Match[str]) -> str:
        if found.group(0) == "?":
            return "%s"
        if found.group(0) == "%":
            return "%%"
        return f"%({found.group(1)})s"

    return _PLACEHOLDER.sub(swap, sql)


class PostgresDatabase:
    dialect: Dialect = "postgresql"

    def __init__(self, url: str, *, max_connections: int = 10) -> None:
        self.url = url
        self._pool: AsyncConnectionPool[AsyncConnection[Row]] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            kwargs={
                "row_factory": dict_row,
                "autocommit": True,
                "application_name": APPLICATION,
                "connect_timeout": CONNECT_TIMEOUT,
            },
            connection_class=AsyncConnection[Row],
            open=False,
            timeout=CONNECTION_WAIT,
        )

    async def open(self) -> None:
        await self._pool.open(wait=True, timeout=30)
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, at TEXT)"
            )
            cursor = await conn.execute("SELECT name FROM _migrations")
            done = {row["name"] for row in await cursor.fetchall()}
            for name, script in MIGRATIONS:
                if name not in done:
                    await conn.execute(script.encode())
                    await conn.execute("INSERT INTO _migrations VALUES (%s, %s)", (name, now()))

    async def aclose(self) -> None:
        await self._pool.close()

    async def execute(self, sql: str, params: Params = ()) -> int:
        async with _reachable(), self._connection() as conn:
            return await _Connection(conn).execute(sql, params)

    async def one(self, sql: str, params: Params = ()) -> Row | None:
        async with _reachable(), self._connection() as conn:
            return await _Connection(conn).one(sql, params)

    async def all(self, sql: str, params: Params = ()) -> list[Row]:
        async with _reachable(), self._connection() as conn:
            return await _Connection(conn).all(sql, params)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection[Row]]:
        """A connection of the pool that the server has not closed meanwhile. One it closed
        (a restart, a terminated backend) has its goodbye waiting to be read: it is put back
        closed, for the pool to replace, and another taken, so no statement meets it."""
        for _ in range(self._pool.max_size):
            conn = await self._pool.getconn()
            if not _closed_by_server(conn):
                break
            with anyio.CancelScope(shield=True):
                await conn.close()
                await self._pool.putconn(conn)
        else:  # every one was: the pool is making new ones
            conn = await self._pool.getconn()
        try:
            yield conn
        finally:
            await self._pool.putconn(conn)

    async def notify(self, channel: str, payload: str) -> None:
        await self.execute("SELECT pg_notify(?, ?)", (channel, payload))

    @asynccontextmanager
    async def pinger(self, name: str = "heartbeat") -> AsyncIterator[Callable[[], Awaitable[None]]]:
        """What asks the database whether it answers (raising HistoryUnavailableError if
        not), on a connection of its own named `name`: a pool busy serving calls is not a
        database gone."""
        async with self._own_connection(name) as conn:

            async def ping() -> None:
                async with _reachable():
                    await conn.execute("SELECT 1")

            yield ping

    @asynccontextmanager
    async def _own_connection(self, name: str) -> AsyncIterator[AsyncConnection[Any]]:
        """A connection outside the pool, named for what it is for, closed however the block
        ends (cancelled too: the connection's own exit would be cancelled before it closes)."""
        async with _reachable():
            conn = await AsyncConnection.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                application_name=f"{APPLICATION} {name}"[:63],
            )
        try:
            yield conn
        finally:
            with anyio.CancelScope(shield=True):
                await conn.close()

    async def check(self) -> None:
        """Test the pool's idle connections, replacing those the database dropped (after a
        restart each would fail one statement otherwise)."""
        async with _reachable():
            await self._pool.check()

    @asynccontextmanager
    async def listening(
        self, *channels: str, name: str = "listener"
    ) -> AsyncIterator[AsyncIterator[tuple[str, str]]]:
        """The notifications sent on `channels`, as (channel, payload), on a connection of its
        own, listening once entered. Iterating raises HistoryUnavailableError when the
        connection fails, or when a quiet one no longer answers."""
        async with self._own_connection(name) as conn:
            async with _reachable():
                for channel in channels:
                    await conn.execute(f"LISTEN {channel}")  # constants of ours, not input
            yield _notices(conn)

    @asynccontextmanager
    async def transaction(self, serialize: str | None = None) -> AsyncIterator[Statements]:
        async with _reachable(), self._connection() as conn, conn.transaction():
            if serialize is not None:
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (serialize,))
            yield _Connection(conn)


@asynccontextmanager
async def _reachable() -> AsyncIterator[None]:
    """Failures to reach the database, as the history's own error."""
    try:
        yield
    except (OperationalError, OSError, TimeoutError) as error:
        raise HistoryUnavailableError(UNREACHABLE) from error


def _closed_by_server(conn: AsyncConnection[Any]) -> bool:
    """Whether an idle connection has something to read: only the server's goodbye can be."""
    if conn.closed:
        return True
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    return bool(readable)


async def _notices(conn: AsyncConnection[Any]) -> AsyncIterator[tuple[str, str]]:
    while True:
        async with _reachable():
            async for notice in conn.notifies(timeout=LISTENER_CHECKED_EVERY):
                yield notice.channel, notice.payload
            with anyio.fail_after(LISTENER_ANSWERS_WITHIN):
                await conn.execute("SELECT 1")


class _Connection:
    def __init__(self, conn: AsyncConnection[Row]) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        cursor = await self._conn.execute(pyformat(sql), _params(params))
        return cursor.rowcount

    async def one(self, sql: str, params: Params = ()) -> Row | None:
        cursor = await self._conn.execute(pyformat(sql), _params(params))
        return await cursor.fetchone()

    async def all(self, sql: str, params: Params = ()) -> list[Row]:
        cursor = await self._conn.execute(pyformat(sql), _params(params))
        return await cursor.fetchall()


def _params(params: Params) -> Any:
    return params if isinstance(params, dict) else tuple(params)
