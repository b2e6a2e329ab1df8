"""The SQLite file the history lives in: one connection in WAL mode (readers never block the
writer) behind a lock, its work run on a worker thread, append-only migrations run on open."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import anyio

from descript_mcp.history.records import now

T = TypeVar("T")

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
)


class Database:
    """SQLite in WAL mode: readers never block the writer; one connection behind a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def open(self) -> None:
        """Open the file, creating it readable by this user only (0600, in a 0700 folder when
        the folder is made here), and bring it to the latest migration."""
        if not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, mode=0o700)
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        if self.path.stat().st_mode & 0o077:  # made by an older version, or by hand
            self.path.chmod(0o600)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, at TEXT)")
        done = {name for (name,) in db.execute("SELECT name FROM _migrations")}
        for name, script in MIGRATIONS:
            if name not in done:
                db.executescript(
                    f"BEGIN; {script}; INSERT INTO _migrations VALUES "
                    f"('{name}', '{now()}'); COMMIT;"
                )
        self._db = db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            if self._db is None:
                raise RuntimeError("the history is not open")
            with self._lock:
                return work(self._db)

        return await anyio.to_thread.run_sync(locked)


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One atomic write (the connection is in autocommit mode otherwise)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
