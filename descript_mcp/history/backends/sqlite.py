"""The history in a SQLite file, for one process (or a few sharing a disk): append-only
migrations run on open."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import anyio

from descript_mcp.history.database import ONE_END, Dialect, Params, Row, Statements
from descript_mcp.history.records import now

T = TypeVar("T")

# A commit runs on the event loop's thread, so it must not checkpoint the WAL (which writes the
# file and syncs it): SQLite's own checkpoint is off, and one runs on a worker thread after
# every this many writes.
CHECKPOINT_EVERY = 200
# How long a statement waits for another process's lock, on a worker thread.
BUSY_WAIT_MS = 5000
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)

# Append-only: a released migration is never edited, only followed by a new one.
MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "001_jobs",
        """
        CREATE TABLE jobs (
            job_id TEXT NOT NULL,
            owner TEXT NOT NULL,
            job_type TEXT NOT NULL,
            tool TEXT,
            request_json TEXT,
            project_id TEXT,
            project_url TEXT,
            drive_id TEXT,
            state TEXT NOT NULL,
            progress_label TEXT,
            progress_percent INTEGER,
            result_json TEXT,
            created_at TEXT NOT NULL,
            stopped_at TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (owner, job_id)
        );
        CREATE INDEX jobs_by_owner ON jobs (owner, created_at DESC);
        CREATE INDEX jobs_by_project ON jobs (owner, project_id);
        CREATE TABLE job_events (
            id INTEGER PRIMARY KEY,
            owner TEXT NOT NULL,
            job_id TEXT NOT NULL,
            at TEXT NOT NULL,
            state TEXT NOT NULL,
            progress_label TEXT,
            progress_percent INTEGER
        );
        CREATE INDEX job_events_by_job ON job_events (owner, job_id, id);
        """,
    ),
    (
        "002_submissions",
        """
        CREATE TABLE submissions (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            job_type TEXT NOT NULL,
            project_key TEXT,
            fingerprint TEXT,
            state TEXT NOT NULL,
            job_id TEXT,
            candidates_json TEXT,
            sent_at REAL NOT NULL,
            ended_at REAL
        );
        CREATE INDEX submissions_by_project ON submissions (job_type, project_key, sent_at);
        CREATE INDEX submissions_by_fingerprint ON submissions (fingerprint, sent_at);
        CREATE INDEX submissions_by_job ON submissions (job_id);
        CREATE INDEX submissions_by_owner ON submissions (owner, state, sent_at);
        """,
    ),
    (
        "003_job_notes_and_links",
        """
        ALTER TABLE jobs ADD COLUMN note TEXT;
        ALTER TABLE jobs ADD COLUMN download_url TEXT;
        ALTER TABLE jobs ADD COLUMN download_expires_at TEXT;
        CREATE INDEX jobs_by_link_expiry ON jobs (download_expires_at)
            WHERE download_url IS NOT NULL;
        """,
    ),
    (
        "004_oauth",
        """
        CREATE TABLE oauth_clients (
            client_id TEXT PRIMARY KEY,
            info_json TEXT NOT NULL,
            sealed_secret BLOB,
            registered_at TEXT NOT NULL
        );
        CREATE TABLE oauth_sign_ins (
            request_id TEXT PRIMARY KEY,
            client_id TEXT NOT NULL,
            params_json TEXT NOT NULL,
            csrf TEXT NOT NULL,
            expires_at REAL NOT NULL,
            browser TEXT,
            sealed_token BLOB,
            owner TEXT,
            drive_name TEXT
        );
        CREATE TABLE oauth_grants (
            grant_id TEXT PRIMARY KEY,
            client_id TEXT NOT NULL,
            owner TEXT NOT NULL,
            drive_name TEXT,
            sealed_token BLOB,
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
            expires_at REAL NOT NULL,
            used_at REAL
        );
        CREATE TABLE oauth_tokens (
            token_hash TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            grant_id TEXT NOT NULL,
            client_id TEXT NOT NULL,
            scopes_json TEXT NOT NULL,
            resource TEXT NOT NULL,
            expires_at REAL NOT NULL,
            used_at REAL,
            revoked INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX oauth_tokens_by_grant ON oauth_tokens (grant_id);
        """,
    ),
    (
        "005_job_leases",
        """
        CREATE TABLE job_leases (
            owner TEXT NOT NULL,
            job_id TEXT NOT NULL,
            holder TEXT NOT NULL,
            expires_at REAL NOT NULL,
            PRIMARY KEY (owner, job_id)
        );
        CREATE INDEX job_leases_by_expiry ON job_leases (expires_at);
        """,
    ),
    (
        "006_jobs_newest_first",
        """
        CREATE INDEX jobs_newest_first ON jobs (owner, created_at DESC, job_id DESC);
        DROP INDEX jobs_by_owner;
        """,
    ),
    (
        "007_anonymous_bounds",
        """
        CREATE TABLE budget_spends (
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            at REAL NOT NULL
        );
        CREATE INDEX budget_spends_by_key ON budget_spends (kind, key, at);
        CREATE INDEX budget_spends_by_age ON budget_spends (kind, at);
        CREATE INDEX oauth_sign_ins_by_expiry ON oauth_sign_ins (expires_at);
        CREATE INDEX oauth_clients_by_age ON oauth_clients (registered_at);
        CREATE INDEX oauth_grants_by_owner ON oauth_grants (owner);
        """,
    ),
    (
        "008_one_end",
        ONE_END,
    ),
)


class SqliteDatabase:
    """One connection in WAL mode (readers never block the writer) behind a lock. Statements
    run on the event loop's thread with no busy timeout, so they never wait there: one that
    finds another process holding the file's lock fails at once and runs again on a worker
    thread, where it may wait (a thread hop costs more than a statement)."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        # A free lock is taken without a trip round the event loop: a reading recorded
        # takes it once, on every tool call that reads a job.
        self._lock = anyio.Lock(fast_acquire=True)
        self._db: sqlite3.Connection | None = None
        self._writes = 0

    def open(self) -> None:
        """Open the file, creating it readable by this user only (0600, in a 0700 folder when
        the folder is made here), and bring it to the latest migration: blocking."""
        if not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, mode=0o700)
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        if self.path.stat().st_mode & 0o077:  # made by an older version, or by hand
            self.path.chmod(0o600)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(f"PRAGMA busy_timeout={BUSY_WAIT_MS}")
        db.execute("PRAGMA wal_autocheckpoint=0")
        db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, at TEXT)")
        done = {name for (name,) in db.execute("SELECT name FROM _migrations")}
        for name, script in MIGRATIONS:
            if name not in done:
                db.executescript(
                    f"BEGIN; {script}; INSERT INTO _migrations VALUES "
                    f"('{name}', '{now()}'); COMMIT;"
                )
        db.execute("PRAGMA busy_timeout=0")
        self._db = db

    async def aclose(self) -> None:
        async with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    async def execute(self, sql: str, params: Params = ()) -> int:
        async with self._lock:
            changed = await self._run(lambda db: db.execute(sql, params).rowcount)
            await self._wrote()
            return changed

    async def one(self, sql: str, params: Params = ()) -> Row | None:
        async with self._lock:
            return await self._run(lambda db: _one(db.execute(sql, params)))

    async def all(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._lock:
            return await self._run(lambda db: [dict(r) for r in db.execute(sql, params)])

    @asynccontextmanager
    async def transaction(self, serialize: str | None = None) -> AsyncIterator[Statements]:
        # One writer at a time already: BEGIN IMMEDIATE takes the file's write lock (waiting
        # for another process, on a thread); once held, nothing the rest does can wait.
        async with self._lock:
            db = await self._run(lambda db: db.execute("BEGIN IMMEDIATE").connection)
            try:
                yield _InTransaction(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            with anyio.CancelScope(shield=True):
                await self._wrote()

    async def _wrote(self) -> None:
        self._writes += 1
        if self._writes % CHECKPOINT_EVERY == 0:
            db = self._open()
            checkpoint = "PRAGMA wal_checkpoint(PASSIVE)"
            # Its answer read whole: a statement left open would keep COMMIT from running.
            await anyio.to_thread.run_sync(lambda: db.execute(checkpoint).fetchall())

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        db = self._open()
        try:
            return work(db)
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF not in _BUSY:
                raise
        return await anyio.to_thread.run_sync(lambda: _waiting(db, work))

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the history is not open")
        return self._db


def _waiting(db: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """`work`, allowed to wait for another process's lock (on a worker thread)."""
    db.execute(f"PRAGMA busy_timeout={BUSY_WAIT_MS}")
    try:
        return work(db)
    finally:
        db.execute("PRAGMA busy_timeout=0")


class _InTransaction:
    """Statements of the transaction that holds the database's lock: once BEGIN IMMEDIATE has
    the file's write lock, no statement can wait for another connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def execute(self, sql: str, params: Params = ()) -> int:
        return self._db.execute(sql, params).rowcount

    async def one(self, sql: str, params: Params = ()) -> Row | None:
        return _one(self._db.execute(sql, params))

    async def all(self, sql: str, params: Params = ()) -> list[Row]:
        return [dict(r) for r in self._db.execute(sql, params)]


def _one(cursor: sqlite3.Cursor) -> Row | None:
    row = cursor.fetchone()
    return dict(row) if row is not None else None
