"""The job history: every job the server starts or sees, and every submission, kept past
Descript's 30 days and a restart, and the OAuth mode's grants. In a SQLite file by default, in
PostgreSQL when several replicas share it (`backends/`); the stores speak to either through one
interface (`database.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from descript_mcp.history.backends import open_database
from descript_mcp.history.budgets import BudgetStore
from descript_mcp.history.database import Database
from descript_mcp.history.grant_store import GrantStore
from descript_mcp.history.jobs import JobStore
from descript_mcp.history.leases import LeaseStore
from descript_mcp.history.submissions import SubmissionStore


@dataclass
class History:
    """The jobs, the submissions, the grants, the leases and the budgets of anonymous requests,
    in one database."""

    jobs: JobStore
    submissions: SubmissionStore
    grants: GrantStore
    leases: LeaseStore
    budgets: BudgetStore
    database: Database

    @classmethod
    async def open(cls, path: Path, url: str | None = None) -> History:
        """Open (create, or migrate) the history: at `url` (postgresql://…), else at `path`."""
        database = await open_database(path, url)
        return cls(
            JobStore(database),
            SubmissionStore(database),
            GrantStore(database),
            LeaseStore(database),
            BudgetStore(database),
            database,
        )

    async def aclose(self) -> None:
        await self.database.aclose()
