"""Descriptors of what was opened: folders walked down from a root one step at a time without
following a link (POSIX, `open_folder`), and where an open file is, asked of the system by its
handle: the check that can be made on what was opened where the platform cannot open relative
to a folder (Windows). Windows gives the final path of a handle (GetFinalPathNameByHandleW),
macOS F_GETPATH, Linux /proc/self/fd; a system that gives none makes local files refuse rather
than trust a name.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from descript_mcp.errors import LocalFileError

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
# Tries to remove a file that a swap keeps moving.
REMOVE_ATTEMPTS = 100
NO_HANDLE_PATHS = (
    "This system cannot say where an opened file is, so local files cannot be checked safely "
    "here: import from a URL instead."
)


def path_key(path: Path) -> str:
    """A comparable form of a resolved path, folding case where the file system does."""
    text = os.path.normcase(str(path))
    return text.casefold() if sys.platform == "darwin" else text


def final_path(fd: int) -> Path | None:
    """Where the file open as `fd` is now (links resolved, renames followed); None if the
    system cannot say, or the file has no name left."""
    if os.fstat(fd).st_nlink == 0:
        return None
    if sys.platform == "win32":
        return _windows_final_path(fd)
    if sys.platform == "darwin":
        import fcntl

        try:
            named = fcntl.fcntl(fd, getattr(fcntl, "F_GETPATH", 50), b"\0" * 1024)
        except OSError:
            return None
        return Path(os.fsdecode(named.split(b"\0", 1)[0]))
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    return Path(target) if target.startswith("/") else None


def create_new(path: Path) -> int:
    """A new file at `path` (never an existing one, nor through a link at its end), open for
    writing. On Windows it is shared for deletion, so that it can be moved into place and
    removed while still open, as on POSIX."""
    if sys.platform == "win32":
        return _windows_create_new(path)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o666)


def is_at(fd: int, path: Path) -> bool:
    """Whether the file open as `fd` is the one at `path`, by the handle's own path; refused
    where the system cannot say."""
    found = final_path(fd)
    if found is None:
        if os.fstat(fd).st_nlink == 0:
            return False
        raise LocalFileError(NO_HANDLE_PATHS)
    return path_key(found) == path_key(path)


def remove_opened(fd: int, made_at: Path) -> None:
    """Remove the file open as `fd` wherever it now is (by the name its handle gives, if that
    name is still this very file; by `made_at` where the system cannot say): a file made or
    moved where it should not be is not left there. Tried again while a swap moves it between
    the look and the removal."""
    for _ in range(REMOVE_ATTEMPTS):
        if os.fstat(fd).st_nlink == 0:
            return
        found = final_path(fd) or made_at
        with contextlib.suppress(OSError):
            there, held = os.stat(found, follow_symlinks=False), os.fstat(fd)
            if (there.st_dev, there.st_ino) == (held.st_dev, held.st_ino):
                os.unlink(found)


def open_folder(root: Path, parts: Sequence[str] = ()) -> int:
    """A descriptor of the folder `root/parts...`, each step opened relative to the last without
    following a link. Raises OSError (ELOOP, ENOTDIR, ENOENT) when a step is not a folder."""
    fd = os.open(root, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    try:
        for part in parts:
            step = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = step
    except BaseException:
        os.close(fd)
        raise
    return fd


def same_folder(root: Path, parts: Sequence[str], held: int) -> bool:
    """Whether the folder reached from `root` by `parts` now is the one `held` open."""
    try:
        again = open_folder(root, parts)
    except OSError:
        return False
    try:
        now, then = os.fstat(again), os.fstat(held)
    finally:
        os.close(again)
    return (now.st_dev, now.st_ino) == (then.st_dev, then.st_ino)


if sys.platform == "win32":
    import ctypes
    import msvcrt
    from ctypes import wintypes

    _kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    _get_final_path = _kernel32.GetFinalPathNameByHandleW
    _get_final_path.argtypes = [wintypes.HANDLE, wintypes.LPWSTR, wintypes.DWORD, wintypes.DWORD]
    _get_final_path.restype = wintypes.DWORD
    _create_file = _kernel32.CreateFileW
    _create_file.argtypes = [
        wintypes.LPCWSTR,
        wintypes.DWORD,
        wintypes.DWORD,
        wintypes.LPVOID,
        wintypes.DWORD,
        wintypes.DWORD,
        wintypes.HANDLE,
    ]
    _create_file.restype = wintypes.HANDLE
    _GENERIC_WRITE, _DELETE, _SHARE_ALL, _CREATE_NEW = 0x40000000, 0x00010000, 0x7, 1
    _NORMAL, _OPEN_REPARSE_POINT = 0x80, 0x00200000  # the link itself, never its target
    _INVALID = wintypes.HANDLE(-1).value

    def _windows_final_path(fd: int) -> Path | None:
        size = 32_768
        buffer = ctypes.create_unicode_buffer(size)
        length = _get_final_path(msvcrt.get_osfhandle(fd), buffer, size, 0)
        if not 0 < length < size:
            return None
        text = buffer.value  # \\?\C:\… or \\?\UNC\server\share\…
        if text.startswith("\\\\?\\UNC\\"):
            return Path("\\\\" + text[8:])
        return Path(text.removeprefix("\\\\?\\"))

    def _windows_create_new(path: Path) -> int:
        handle = _create_file(
            str(path),
            _GENERIC_WRITE | _DELETE,
            _SHARE_ALL,
            None,
            _CREATE_NEW,
            _NORMAL | _OPEN_REPARSE_POINT,
            None,
        )
        if handle == _INVALID:
            raise ctypes.WinError(ctypes.get_last_error())
        return msvcrt.open_osfhandle(handle, os.O_WRONLY | os.O_BINARY)
