"""Which local files may be read or written: only those under the configured roots.

A path is resolved first (~, symlinks, `..`, and case where the file system ignores it), then
checked; so a symlink inside a root that points outside it is outside. An MCP client's own
roots can narrow the configured ones, never widen them.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from descript_mcp.errors import DescriptError

ROOTS_ENV = "DESCRIPT_MCP_ROOTS"
NO_ROOTS = (
    "Local file access is off. To allow it, set DESCRIPT_MCP_ROOTS to the folders this server "
    f"may read and write (separated by '{os.pathsep}'), e.g. DESCRIPT_MCP_ROOTS=~/Movies, or "
    "start it with --root ~/Movies; then restart the server."
)


class LocalFileError(DescriptError):
    """A local path that may not, or cannot, be used."""


def _key(path: Path) -> str:
    """A comparable form of a resolved path, folding case where the file system does."""
    text = os.path.normcase(str(path))
    return text.casefold() if sys.platform == "darwin" else text


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


def _within(path: Path, folders: Iterable[Path]) -> bool:
    key = _key(path)
    for folder in folders:
        root = _key(folder).rstrip(os.sep) or os.sep
        if key == root or key.startswith(root if root.endswith(os.sep) else root + os.sep):
            return True
    return False


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

    @classmethod
    def of(cls, paths: Iterable[str | Path]) -> Roots:
        return cls(tuple(_resolve(p) for p in paths if str(p).strip()))

    def narrowed_to(self, client_folders: Iterable[Path]) -> Roots:
        return Roots(self.folders, tuple(client_folders))

    def _checked(self, path: str) -> Path:
        if not self.folders:
            raise LocalFileError(NO_ROOTS)
        raw = expand_home(path)
        if not raw.is_absolute():
            raise LocalFileError(f"'{path}' is not an absolute path: give the full path.")
        resolved = _resolve(raw)
        allowed = _within(resolved, self.folders) and (
            self.client_folders is None or _within(resolved, self.client_folders)
        )
        if not allowed:
            where = ", ".join(str(f) for f in self.folders)
            raise LocalFileError(
                f"'{path}' is outside the folders this server may use ({where}). Move the file "
                f"there, or add its folder to {ROOTS_ENV} and restart the server."
            )
        return resolved

    def readable(self, path: str) -> Path:
        """A regular file under the roots, to upload."""
        resolved = self._checked(path)
        try:
            mode = resolved.stat().st_mode
        except FileNotFoundError:
            raise LocalFileError(f"'{path}' does not exist.") from None
        except OSError as exc:
            raise LocalFileError(f"'{path}' cannot be read: {exc.strerror}.") from None
        if stat.S_ISDIR(mode):
            raise LocalFileError(f"'{path}' is a folder: give the path of a media file in it.")
        if not stat.S_ISREG(mode):
            raise LocalFileError(f"'{path}' is not a regular file (a device, pipe or socket).")
        if not os.access(resolved, os.R_OK):
            raise LocalFileError(f"'{path}' is not readable by this server.")
        return resolved

    def writable(self, path: str, *, overwrite: bool) -> Path:
        """A place under the roots to write a new file, or to replace one if `overwrite`."""
        resolved = self._checked(path)
        if not resolved.parent.is_dir():
            raise LocalFileError(f"The folder of '{path}' does not exist.")
        if resolved.exists() or resolved.is_symlink():
            if resolved.is_dir():
                raise LocalFileError(f"'{path}' is a folder: give a file name in it.")
            if not resolved.is_file():
                raise LocalFileError(f"'{path}' is not a regular file.")
            if not overwrite:
                raise LocalFileError(
                    f"'{path}' already exists. Choose another name, or pass overwrite=true "
                    "to replace it."
                )
        return resolved
