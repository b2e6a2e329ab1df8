"""Which local files may be read or written: only those under the configured roots.

A path is resolved first (~, symlinks, `..`, and case where the file system ignores it) to find
the root it lies under; a symlink inside a root that points outside it is outside. The file is
then opened by walking down from the root without following any link (`files.local`), and the
checks are made on what was opened: a link swapped in after the check makes the open fail, it
cannot lead elsewhere. An MCP client's own roots can narrow the configured ones, never widen
them. Over HTTP each user has a folder of their own under each root (`for_user`).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from descript_mcp.errors import LocalFileError
from descript_mcp.files.handles import path_key
from descript_mcp.files.local import ReadableFile, SavePlace
from descript_mcp.settings import ROOTS_ENV

logger = logging.getLogger(__name__)

NO_ROOTS = (
    "Local file access is off. To allow it, set DESCRIPT_MCP_ROOTS to the folders this server "
    f"may read and write (separated by '{os.pathsep}'), e.g. DESCRIPT_MCP_ROOTS=~/Movies, or "
    "start it with --root ~/Movies; then restart the server."
)
# Longer than any real path, short enough that no message or log carries a flood.
MAX_PATH = 4096


def expand_home(path: str | Path) -> Path:
    """`path` with a leading `~` or `~user` expanded."""
    try:
        return Path(path).expanduser()
    except RuntimeError:  # `~name` of a user this system does not know
        raise LocalFileError(
            f"'{path}' starts with an unknown user's home: give the full path."
        ) from None


def _resolve(path: str | Path) -> Path:
    return Path(os.path.realpath(expand_home(path)))


def _depth_within(path: Path, folder: Path) -> int | None:
    """How many leading parts of `path` are `folder`, if `path` is it or lies below it."""
    key, root = path_key(path), path_key(folder).rstrip(os.sep) or os.sep
    if key == root or key.startswith(root if root.endswith(os.sep) else root + os.sep):
        return len(folder.parts)
    return None


def root_from_uri(uri: str) -> Path | None:
    """The folder of an MCP root (`file:///...`); None for other schemes."""
    parts = urlsplit(uri)
    if parts.scheme != "file":
        return None
    return _resolve(unquote(parts.path))


@dataclass(frozen=True)
class Roots:
    folders: tuple[Path, ...]
    # The client's own roots, when it announced some: a path must be under one of them too.
    client_folders: tuple[Path, ...] | None = None
    # What to say when there are no folders at all.
    off: str = NO_ROOTS

    @classmethod
    def of(cls, paths: Iterable[str | Path], off: str = NO_ROOTS) -> Roots:
        return cls(tuple(_resolve(p) for p in paths if str(p).strip()), off=off)

    def narrowed_to(self, client_folders: Iterable[Path]) -> Roots:
        return Roots(self.folders, tuple(client_folders), self.off)

    def for_user(self, owner: str) -> Roots:
        """Each root's folder of one user (created, mode 0700, on first use): over HTTP, users
        share the server's disk, and each may use only their own folder of it."""
        folders = []
        for root in self.folders:
            folder = root / owner
            try:
                folder.mkdir(mode=0o700, exist_ok=True)
                info = folder.lstat()
            except OSError as error:
                logger.warning("cannot use %s's folder under %s: %s", owner, root, error.strerror)
                continue
            if stat.S_ISDIR(info.st_mode) and not stat.S_ISLNK(info.st_mode):
                folders.append(folder)
            else:
                logger.warning("%s under %s is not a folder: not used", owner, root)
        return Roots(tuple(folders), off=self.off)

    def locate(self, path: str) -> tuple[Path, tuple[str, ...], Path]:
        """The root `path` lies under, its parts below that root (links resolved), and the
        path as given; refused if under none."""
        if not self.folders:
            raise LocalFileError(self.off)
        if "\x00" in path or len(path) > MAX_PATH:
            raise LocalFileError("That is not a usable path: it is too long or holds a NUL.")
        raw = expand_home(path)
        if not raw.is_absolute():
            raise LocalFileError(f"'{path}' is not an absolute path: give the full path.")
        try:
            resolved = _resolve(raw)
        except OSError:  # a link swapped while it was being read
            raise LocalFileError(
                f"'{path}' changed while it was being checked: try again."
            ) from None
        allowed = self.client_folders is None or any(
            _depth_within(resolved, folder) is not None for folder in self.client_folders
        )
        for folder in self.folders:
            depth = _depth_within(resolved, folder)
            if depth is not None and allowed:
                return folder, resolved.parts[depth:], raw
        where = ", ".join(str(f) for f in self.folders)
        raise LocalFileError(
            f"'{path}' is outside the folders this server may use ({where}). Move the file "
            f"there, or add its folder to {ROOTS_ENV} and restart the server."
        )

    def open_readable(self, path: str) -> ReadableFile:
        """A regular file under the roots, open for reading: checked on what was opened."""
        root, parts, shown = self.locate(path)
        if not parts or _names_a_folder(path):
            raise LocalFileError(f"'{path}' is a folder: give the path of a media file in it.")
        try:
            return ReadableFile.below(root, parts, shown)
        except OSError as error:
            raise _problem(path, error, reading=True) from None

    def open_writable(self, path: str, *, overwrite: bool) -> SavePlace:
        """A place under the roots to write a new file, or to replace one if `overwrite`; its
        folder held open until the place is closed."""
        root, parts, shown = self.locate(path)
        if _names_a_folder(path):
            raise LocalFileError(
                f"'{path}' ends with a separator (or . or ..), so it names a folder: give a "
                "file name in it, like …/episode.mp4."
            )
        if not parts:
            raise LocalFileError(f"'{path}' is a folder: give a file name in it.")
        try:
            return SavePlace.below(root, parts, shown, overwrite=overwrite)
        except OSError as error:
            raise _problem(path, error, reading=False) from None


def _names_a_folder(path: str) -> bool:
    """Whether `path` ends as only a folder's path does: a separator, `.` or `..`."""
    last = path.replace(os.altsep or os.sep, os.sep).rsplit(os.sep, 1)[-1]
    return last in ("", ".", "..")


def _problem(path: str, error: OSError, *, reading: bool) -> LocalFileError:
    """What to tell the caller of an OSError on `path`."""
    match error.errno:
        case errno.ENOENT:
            missing = f"'{path}'" if reading else f"The folder of '{path}'"
            return LocalFileError(f"{missing} does not exist.")
        case errno.EACCES | errno.EPERM:
            able = "readable" if reading else "writable"
            return LocalFileError(f"'{path}' is not {able} by this server.")
        case errno.ELOOP | errno.ENOTDIR:  # a link or a file where a folder was checked
            return LocalFileError(f"'{path}' changed while it was being checked: try again.")
        case errno.ENAMETOOLONG:
            return LocalFileError(
                "A name in that path is longer than this file system allows (often 255 bytes): "
                "choose a shorter one."
            )
        case _:
            return LocalFileError(f"'{path}' cannot be used: {error.strerror}.")
