"""Local files held open from their check to their use, so that a name swapped in between (a
file turned into a symlink, a folder into a link elsewhere) cannot redirect a read or a write.

A file to upload is opened once, checked on its descriptor (a regular file, by fstat), and read
from that descriptor. A file to save is written into a folder held open since it was checked:
a temporary file is created, and renamed into place, relative to that folder's descriptor. Below
a root, each step of a path is opened relative to the last without following a link
(`O_NOFOLLOW`), so a link swapped into the path makes the open fail rather than escape.

Where the platform has no `dir_fd` and `O_NOFOLLOW` (Windows), names must be used, and each is
checked on the handle it opened (`files.handles`): a file read is open where it was checked (its
identity and the handle's own path); a file saved is created where it should be, moved into place
by name, and then found by its handle where it was meant to go. A swap at any of those moments
makes the save fail, and a file made or moved elsewhere by it is removed, not left there; a
system that cannot say where a handle is refuses local files.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import anyio

from descript_mcp.errors import LocalFileError
from descript_mcp.files.handles import (
    create_new,
    is_at,
    open_folder,
    remove_opened,
    same_folder,
)
from descript_mcp.files.quota import Allowance

# Every call this module needs relative to a folder descriptor, and a way not to follow links.
# (os.replace, which is os.rename where rename replaces, is not listed itself.)
SAFE_WALK = (
    {os.open, os.stat, os.link, os.rename, os.unlink} <= os.supports_dir_fd
    and hasattr(os, "O_NOFOLLOW")
    and hasattr(os, "O_DIRECTORY")
)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
CHUNK_SIZE = 1024 * 1024
# Where the file system does not say how long a name may be (Windows: 255 UTF-16 units).
NAME_MAX = 255
ByteProgress = Callable[[int, int | None], Awaitable[None]]


class ReadableFile:
    """A regular file opened for reading: every byte read comes from this descriptor, whatever
    its name points to since. `shown` is its path for messages."""

    def __init__(self, fd: int, shown: Path) -> None:
        self.fd = fd
        self.shown = shown
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise LocalFileError(f"'{shown}' is not a regular file (a device, pipe or socket).")
        self.size = info.st_size
        self.identity = (info.st_dev, info.st_ino)
        if _NONBLOCK:  # opened so only to check it without blocking on a pipe
            os.set_blocking(fd, True)

    @classmethod
    def below(cls, root: Path, parts: Sequence[str], shown: Path) -> ReadableFile:
        """Open `root/parts...` without following a link at any step below `root`."""
        if not SAFE_WALK:
            return cls._resolved(root.joinpath(*parts), shown)
        folder = open_folder(root, parts[:-1])
        try:
            checked = os.stat(parts[-1], dir_fd=folder, follow_symlinks=False)
            if stat.S_ISDIR(checked.st_mode):
                raise LocalFileError(f"'{shown}' is a folder: give the path of a media file in it.")
            if stat.S_ISLNK(checked.st_mode):
                raise LocalFileError(f"'{shown}' changed while it was being checked: try again.")
            if not stat.S_ISREG(checked.st_mode):  # not opened at all: a FIFO would block
                raise LocalFileError(f"'{shown}' is not a regular file (a device, pipe or socket).")
            flags = os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC
            return cls(os.open(parts[-1], flags, dir_fd=folder), shown)
        finally:
            os.close(folder)

    @classmethod
    def at(cls, path: Path) -> ReadableFile:
        """Open a file the user named themselves (the command line): links followed."""
        return cls(os.open(path, os.O_RDONLY | _NONBLOCK | _CLOEXEC), path)

    @classmethod
    def _resolved(cls, resolved: Path, shown: Path) -> ReadableFile:
        checked = resolved.lstat()  # a link here now was swapped in after resolving
        if stat.S_ISDIR(checked.st_mode):
            raise LocalFileError(f"'{shown}' is a folder: give the path of a media file in it.")
        if stat.S_ISLNK(checked.st_mode):
            raise LocalFileError(f"'{shown}' changed while it was being checked: try again.")
        if not stat.S_ISREG(checked.st_mode):
            raise LocalFileError(f"'{shown}' is not a regular file (a device, pipe or socket).")
        flags = os.O_RDONLY | _NONBLOCK | getattr(os, "O_BINARY", 0)
        opened = cls(os.open(resolved, flags), shown)
        try:
            now = os.fstat(opened.fd)
            same = (now.st_dev, now.st_ino) == (checked.st_dev, checked.st_ino)
            if not (same and is_at(opened.fd, resolved)):  # not by a folder swapped meanwhile
                raise LocalFileError(f"'{shown}' changed while it was being checked: try again.")
        except BaseException:
            opened.close()
            raise
        return opened

    async def chunks(self, on_bytes: ByteProgress | None = None) -> AsyncIterator[bytes]:
        """The file's bytes from its start, as read; fails if its size changed meanwhile."""
        sent = 0
        os.lseek(self.fd, 0, os.SEEK_SET)
        while chunk := await anyio.to_thread.run_sync(
            os.read, self.fd, min(CHUNK_SIZE, self.size - sent) or 1
        ):
            sent += len(chunk)
            if sent > self.size:
                break
            yield chunk
            if on_bytes is not None:
                await on_bytes(sent, self.size)
        if sent != self.size:
            raise LocalFileError(f"'{self.shown}' changed size while it was being uploaded.")

    def close(self) -> None:
        """Close the descriptor, once: its number may be another file's afterwards."""
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> ReadableFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SavePlace:
    """Where a file will be saved: its folder, held open since it was checked, and a name in it.
    The file is written to a temporary name in that very folder and moved into place there, so
    a folder swapped for a link meanwhile cannot send it elsewhere; just before the move, the
    folder is checked to be still where it was (`still_there`). Without a folder descriptor,
    each step is checked on the temporary file's own handle instead. `room`, when set, bounds
    the bytes written (files.quota)."""

    def __init__(
        self,
        folder: int | None,
        folder_path: Path,
        name: str,
        shown: Path,
        still_there: Callable[[], bool],
    ) -> None:
        self.folder = folder  # None where the platform has no dir_fd
        self.folder_path = folder_path
        self.name = name
        self.shown = shown
        self._still_there = still_there
        self.room: Allowance | None = None
        self._handle = -1  # the temporary file, while it is written (a descriptor of its own)
        self._placed = False

    @classmethod
    def below(cls, root: Path, parts: Sequence[str], shown: Path, *, overwrite: bool) -> SavePlace:
        """A place at `root/parts...`, its folder opened without following a link below `root`."""
        folder_parts = tuple(parts[:-1])
        folder_path = root.joinpath(*folder_parts)
        if not SAFE_WALK:
            return cls._resolved(folder_path, parts[-1], shown, overwrite=overwrite, root=root)
        try:
            folder = open_folder(root, folder_parts)
        except FileNotFoundError:
            raise LocalFileError(f"The folder of '{shown}' does not exist.") from None
        place = cls(
            folder,
            folder_path,
            parts[-1],
            shown,
            lambda: same_folder(root, folder_parts, folder),
        )
        try:
            place._check_name(overwrite)
        except BaseException:
            place.close()
            raise
        return place

    @classmethod
    def at(cls, path: Path, *, overwrite: bool) -> SavePlace:
        """A place the user named themselves (the command line)."""
        if not SAFE_WALK:
            return cls._resolved(path.parent, path.name, path, overwrite=overwrite, root=None)
        try:
            folder = os.open(path.parent, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
        except FileNotFoundError:
            raise LocalFileError(f"The folder of '{path}' does not exist.") from None
        place = cls(folder, path.parent, path.name, path, lambda: True)
        try:
            place._check_name(overwrite)
        except BaseException:
            place.close()
            raise
        return place

    @classmethod
    def _resolved(
        cls, folder_path: Path, name: str, shown: Path, *, overwrite: bool, root: Path | None
    ) -> SavePlace:
        if not folder_path.is_dir():
            raise LocalFileError(f"The folder of '{shown}' does not exist.")

        def still_there() -> bool:
            real = Path(os.path.realpath(folder_path))
            return root is None or real == root or root in real.parents

        place = cls(None, folder_path, name, shown, still_there)
        place._check_name(overwrite)
        return place

    def _stat(self, name: str) -> os.stat_result | None:
        try:
            if self.folder is None:
                return os.stat(self.folder_path / name, follow_symlinks=False)
            return os.stat(name, dir_fd=self.folder, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def _check_name(self, overwrite: bool) -> None:
        if sys.platform == "win32":
            length, unit = len(self.name.encode("utf-16-le")) // 2, "characters"
        else:
            length, unit = len(os.fsencode(self.name)), "bytes"
        longest = self._longest_name()
        if length > longest:
            raise LocalFileError(
                f"The file name '{self.name[:40]}…' is {length} {unit} long, and this file "
                f"system takes at most {longest}: choose a shorter name."
            )
        existing = self._stat(self.name)
        if existing is None:
            return
        if stat.S_ISDIR(existing.st_mode):
            raise LocalFileError(f"'{self.shown}' is a folder: give a file name in it.")
        if stat.S_ISLNK(existing.st_mode):
            raise LocalFileError(f"'{self.shown}' changed while it was being checked: try again.")
        if not stat.S_ISREG(existing.st_mode):
            raise LocalFileError(f"'{self.shown}' is not a regular file.")
        if not overwrite:
            raise LocalFileError(
                f"'{self.shown}' already exists. Choose another name, or pass overwrite=true "
                "to replace it."
            )

    def _longest_name(self) -> int:
        if sys.platform == "win32":
            return NAME_MAX
        try:
            if self.folder is not None:
                return os.fpathconf(self.folder, "PC_NAME_MAX")
            return os.pathconf(self.folder_path, "PC_NAME_MAX")
        except (OSError, ValueError):  # a file system that does not say
            return NAME_MAX

    @contextlib.asynccontextmanager
    async def partial(self) -> AsyncIterator[tuple[str, anyio.AsyncFile[bytes]]]:
        """A new temporary file beside the target, open for writing; removed on the way out
        unless `commit` moved it into place."""
        temporary = f".{_prefix(self.name)}.{secrets.token_hex(4)}.part"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
        try:
            if self.folder is None:
                fd = create_new(self.folder_path / temporary)
            else:
                fd = os.open(temporary, flags, 0o666, dir_fd=self.folder)
        except OSError as error:
            raise self._problem(error) from None
        self._handle = os.dup(fd)
        try:
            async with anyio.wrap_file(os.fdopen(fd, "wb")) as out:
                if self.folder is None and not is_at(fd, self.folder_path / temporary):
                    raise self._moved()  # made elsewhere: removed below, by its handle
                yield temporary, out
        except OSError as error:
            raise self._problem(error) from None
        finally:
            handle, self._handle = self._handle, -1
            try:
                if self.folder is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(temporary, dir_fd=self.folder)
                elif not self._placed:
                    remove_opened(handle, self.folder_path / temporary)
            finally:
                os.close(handle)

    def commit(self, temporary: str, *, overwrite: bool) -> None:
        """Move the finished temporary file into place, in the folder held open."""
        if not self._still_there():
            raise self._moved()
        if self.folder is None:
            self._commit_by_name(temporary, overwrite=overwrite)
            return
        if overwrite:
            self._between(os.replace, temporary, self.name)
            return
        try:  # a link fails if the name was taken meanwhile: it never replaces
            self._between(os.link, temporary, self.name)
        except FileExistsError:
            raise self._appeared() from None
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise self._problem(error) from None
            if self._stat(self.name) is not None:  # a file system without hard links
                message = f"'{self.shown}' already exists; it was not replaced."
                raise LocalFileError(message) from None
            self._between(os.replace, temporary, self.name)

    def _commit_by_name(self, temporary: str, *, overwrite: bool) -> None:
        """Without a folder descriptor: the temporary file must be where it was made, is
        renamed by name (on Windows a rename never replaces), and must then be found, by its
        handle, where it was meant to go; if a swap sent it elsewhere, it is removed from there
        on the way out of `partial`."""
        source, target = self.folder_path / temporary, self.folder_path / self.name
        if not is_at(self._handle, source):
            raise self._moved()
        if not overwrite and os.path.lexists(target):
            raise self._appeared()
        try:
            (os.replace if overwrite else os.rename)(source, target)
        except FileExistsError:
            raise self._appeared() from None
        except OSError as error:
            raise self._problem(error) from None
        if not is_at(self._handle, target):
            raise self._moved()
        self._placed = True

    def _moved(self) -> LocalFileError:
        return LocalFileError(
            f"The folder of '{self.shown}' was moved or replaced while the file was being "
            "saved: nothing was saved."
        )

    def _appeared(self) -> LocalFileError:
        return LocalFileError(f"'{self.shown}' appeared while downloading; it was not replaced.")

    def _problem(self, error: OSError) -> LocalFileError:
        """What to say of an OSError while saving."""
        if error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return LocalFileError(f"No room is left on the disk for '{self.shown}': nothing saved.")
        if error.errno in (errno.EACCES, errno.EPERM):
            return LocalFileError(f"'{self.shown}' is not writable by this server.")
        if error.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            return self._moved()
        if error.errno == errno.ENAMETOOLONG:
            return LocalFileError(f"'{self.shown}' is too long a path for this file system.")
        return LocalFileError(f"'{self.shown}' could not be saved: {error.strerror}.")

    def _call(self, operation: Callable[..., object], name: str) -> None:
        if self.folder is None:
            operation(self.folder_path / name)
        else:
            operation(name, dir_fd=self.folder)

    def _between(self, operation: Callable[..., object], source: str, target: str) -> None:
        """os.link or os.replace of two names in the folder."""
        if self.folder is None:
            operation(self.folder_path / source, self.folder_path / target)
        else:  # os.replace takes dir_fd as os.rename does (and on POSIX is the same call)
            operation(source, target, src_dir_fd=self.folder, dst_dir_fd=self.folder)

    def close(self) -> None:
        if self.folder is not None:
            with contextlib.suppress(OSError):
                os.close(self.folder)

    def __enter__(self) -> SavePlace:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _prefix(name: str) -> str:
    """The start of a name, for a temporary file beside it that fits any file system's limit."""
    return os.fsencode(name)[:40].decode(errors="ignore") if sys.platform != "win32" else name[:40]
