"""How much a save may write: a bound on any one file and, where several users share the
server's disk, on each user's folders, counted on the disk itself (partial files included) with
one save at a time per user, so that saves at once cannot each find the same room."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio

from descript_mcp.errors import LocalFileError

MIB = 1024 * 1024


def size_text(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    raise AssertionError("unreachable")


def usage(folders: Iterable[Path]) -> int:
    """Bytes of the regular files under `folders`, links not followed."""
    total = 0
    pending = list(folders)
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(Path(entry.path))
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
        except OSError:  # gone or unreadable meanwhile: nothing of it counted
            continue
    return total


@dataclass(frozen=True)
class Allowance:
    """The bytes one save may write (`room`), and what bounds it, said as the end of a
    sentence with the next step (`bound`)."""

    room: int
    bound: str

    def expect(self, size: int | None) -> None:
        """Refuse a file announced larger than the room, before a byte is written."""
        if size is not None and size > self.room:
            raise LocalFileError(f"Nothing saved: the file is {size_text(size)}, and {self.bound}.")

    def check(self, written: int) -> None:
        """Stop once more than the room was written."""
        if written > self.room:
            raise LocalFileError(
                f"Nothing saved: the file passed {size_text(self.room)}, and {self.bound}."
            )


class SavesByUser:
    """One save at a time per user; a user's lock lives only while they save or wait to."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[anyio.Lock, int]] = {}

    @asynccontextmanager
    async def one_at_a_time(self, user: str) -> AsyncIterator[None]:
        lock, count = self._locks.get(user, (anyio.Lock(), 0))
        self._locks[user] = (lock, count + 1)
        try:
            async with lock:
                yield
        finally:
            lock, count = self._locks[user]
            if count == 1:
                del self._locks[user]
            else:
                self._locks[user] = (lock, count - 1)

    async def allowance(
        self, user: str, folders: tuple[Path, ...], quota: int, largest: Allowance
    ) -> Allowance:
        """What the user's folders still hold room for (within `largest`), counted now: call
        it within `one_at_a_time`."""
        used = await anyio.to_thread.run_sync(usage, folders)
        if quota - used >= largest.room:
            return largest
        return Allowance(
            max(0, quota - used),
            f"your folders on this server hold {size_text(used)} of the {size_text(quota)} each "
            "user may keep (DESCRIPT_MCP_HTTP_QUOTA_MB): ask whoever runs it to make room or "
            "raise the quota, or download the file from its link instead",
        )
