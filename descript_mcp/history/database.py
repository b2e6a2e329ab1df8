"""The one interface the history's stores talk to, whatever keeps it: SQLite for one process,
PostgreSQL for several (`backends/`).

SQL is written once, in SQLite's placeholder style (`?` and `:name`) and in the SQL both accept;
the PostgreSQL backend translates the placeholders. Rows come back as dicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, NamedTuple, Protocol

Params = Sequence[Any] | Mapping[str, Any]
Row = dict[str, Any]
Dialect = Literal["sqlite", "postgresql"]

# A migration both backends run (each in its own list): a job ends once, and the database
# refuses a second end however two replicas race. Duplicates an older version wrote go first.
ONE_END = """
    DELETE FROM job_events WHERE state IN ('stopped', 'cancelled', 'failed') AND id NOT IN (
        SELECT min(id) FROM job_events WHERE state IN ('stopped', 'cancelled', 'failed')
        GROUP BY owner, job_id
    );
    CREATE UNIQUE INDEX job_events_one_end ON job_events (owner, job_id)
        WHERE state IN ('stopped', 'cancelled', 'failed');
"""


class Notification(NamedTuple):
    """A message for the other processes sharing a PostgreSQL database (NOTIFY)."""

    channel: str
    payload: str


class Statements(Protocol):
    """Where statements run: the database itself (each on its own), or one transaction."""

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; how many rows it changed."""
        ...

    async def one(self, sql: str, params: Params = ()) -> Row | None: ...

    async def all(self, sql: str, params: Params = ()) -> list[Row]: ...


class Database(Statements, Protocol):
    dialect: Dialect

    def transaction(self, serialize: str | None = None) -> AbstractAsyncContextManager[Statements]:
        """Statements that happen together or not at all. Transactions naming the same
        `serialize` never overlap, in this process or any other sharing the database: what
        SQLite's single writer gives, PostgreSQL gives by an advisory lock."""
        ...

    async def aclose(self) -> None: ...
