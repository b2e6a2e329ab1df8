"""The job history: every job the server starts or sees, and every submission, kept past
Descript's 30 days and a restart, and the OAuth mode's grants. In a SQLite file by default, in
PostgreSQL when several replicas share it (`backends/`); the stores speak to either through one
interface (`database.py`)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from descript_mcp.history.backends import open_database
from descript_mcp.history.database import Database
from descript_mcp.history.jobs import JobStore
from descript_mcp.history.submissions import SubmissionStore

if TYPE_CHECKING:
    from descript_mcp.history.budgets import BudgetStore
    from descript_mcp.history.grant_store import GrantStore
    from descript_mcp.history.leases import LeaseStore


class History:
    """The jobs, the submissions, the grants, the leases and the budgets of anonymous requests,
    in one database. The last three serve the OAuth mode and replicas: their stores (and
    modules) are made when first used, so a local server does not load them."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.jobs = JobStore(database)
        self.submissions = SubmissionStore(database)

    @classmethod
    async def open(cls, path: Path, url: str | None = None) -> History:
        """Open (create, or migrate) the history: at `url` (postgresql://…), else at `path`."""
        return cls(await open_database(path, url))

    @cached_property
    def grants(self) -> GrantStore:
        from descript_mcp.history.grant_store import GrantStore

        return GrantStore(self.database)

    @cached_property
    def leases(self) -> LeaseStore:
        from descript_mcp.history.leases import LeaseStore

        return LeaseStore(self.database)

    @cached_property
    def budgets(self) -> BudgetStore:
        from descript_mcp.history.budgets import BudgetStore

        return BudgetStore(self.database)

    async def aclose(self) -> None:
        await self.database.aclose()
