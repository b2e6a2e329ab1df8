"""The job history: every job the server starts or sees, and every submission, kept past
Descript's 30 days and a restart, and the OAuth mode's grants. SQLite by default (`sqlite/`);
`History` is what the server uses, whatever keeps it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from descript_mcp.history.sqlite.database import Database
from descript_mcp.history.sqlite.grants import SqliteGrants
from descript_mcp.history.sqlite.jobs import SqliteJobs
from descript_mcp.history.sqlite.submissions import SqliteSubmissions


@dataclass
class History:
    """The jobs, the submissions and the grants, in one database."""

    jobs: SqliteJobs
    submissions: SqliteSubmissions
    grants: SqliteGrants
    database: Database

    @classmethod
    def open(cls, path: Path) -> History:
        """Open (and create, or migrate) the history at `path`: blocking, run it in a thread."""
        database = Database(path)
        database.open()
        return cls(
            SqliteJobs(database), SqliteSubmissions(database), SqliteGrants(database), database
        )

    def close(self) -> None:
        self.database.close()
