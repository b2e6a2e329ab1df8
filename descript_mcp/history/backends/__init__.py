"""Where the history is kept: a SQLite file (the default, for one process) or PostgreSQL (with
DESCRIPT_MCP_DATABASE_URL, shared by several replicas)."""

from __future__ import annotations

from pathlib import Path

import anyio

from descript_mcp.history.database import Database


async def open_database(path: Path, url: str | None = None) -> Database:
    """The database at `url` (postgresql://…), else the SQLite file at `path`, migrated."""
    if url:
        from descript_mcp.history.backends.postgres import PostgresDatabase  # only when used

        postgres = PostgresDatabase(url)
        await postgres.open()
        return postgres
    from descript_mcp.history.backends.sqlite import SqliteDatabase

    sqlite = SqliteDatabase(path)
    await anyio.to_thread.run_sync(sqlite.open)
    return sqlite
