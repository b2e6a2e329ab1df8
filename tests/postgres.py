"""A throwaway PostgreSQL server from Debian's `postgresql` package: `initdb` and `pg_ctl` as the
`postgres` user (as root) or as this user, in a temporary folder, listening on a socket there
only, with durability off (tests need none). Each test gets a database of its own."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

PORT = 54329


def binaries() -> Path | None:
    """The newest installed server's bin folder, if any."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


class ThrowawayPostgres:
    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="descript-mcp-pg-"))
        self.data = self.root / "data"
        self.socket = self.root
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name

    def start(self) -> None:
        if self._as:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "-N",
        )
        self.resume()

    def resume(self) -> None:
        """Start the server (again, after `halt`)."""
        options = (
            f"-k {self.socket} -c listen_addresses='' -p {PORT} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-w",
            "-l",
            str(self.root / "log"),
            "start",
        )

    def halt(self) -> None:
        """Stop the server as a restart does (fast: every session ends with AdminShutdown),
        keeping its data for `resume`."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{database}?host={self.socket}&port={PORT}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        self._run(
            "psql",
            "-h",
            str(self.socket),
            "-p",
            str(PORT),
            "-U",
            self.user,
            "-d",
            "postgres",
            "-q",
            "-c",
            f"CREATE DATABASE {name}",
        )
        return self.url(name)

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [*self._as, str(self.bin / program), *args],
            check=True,
            capture_output=True,
            cwd=self.root,
        )


def terminate_backends(database: str) -> dict[int, str]:
    """pg_terminate_backend on every other connection to the database (its pools', listeners',
    heartbeats'); the ones ended, by pid, with their application names."""
    import psycopg

    with psycopg.connect(database, autocommit=True) as db:
        rows = db.execute(
            "SELECT pid, application_name, pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return {pid: name for pid, name, _ in rows}


def connected_again(database: str, ended: dict[int, str]) -> bool:
    """Whether every connection of its own among `ended` (a listener, a heartbeat: named
    "descript-mcp <what> <replica>") has a successor of the same name."""
    import psycopg

    wanted = {name for name in ended.values() if name.count(" ") >= 2}
    with psycopg.connect(database) as db:
        rows = db.execute(
            "SELECT pid, application_name FROM pg_stat_activity WHERE datname = current_database()"
        ).fetchall()
    now = {name for pid, name in rows if pid not in ended}
    return wanted <= now
