"""A file or folder swapped for a link between its check and its use: the swap loops of the
attack, run for a bounded time, must show zero escapes. Each runs twice: with folder descriptors
(POSIX), and with the fallback of platforms without them (Windows), forced here, where names are
used and checked on the handles they opened."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

from descript_mcp.errors import LocalFileError
from descript_mcp.files.roots import Roots
from descript_mcp.files.transfer import write_file

SECRET = b"SECRET-BYTES-OUTSIDE-THE-ROOT-" * 64
OURS = b"the-file-inside-the-root-------" * 64
RUN_FOR = 1.5
GIVE_UP = 60.0
SEEN_ENOUGH = 10


class Race:
    """A swap loop's course: it runs RUN_FOR, and on until each outcome was seen more than
    SEEN_ENOUGH times, but not past GIVE_UP. On a loaded machine the swapping thread gets the
    interpreter in long turns, and the same time sees fewer of them."""

    def __init__(self, *outcomes: str) -> None:
        self.seen: Counter[str] = Counter()
        self._outcomes = outcomes
        self._started = time.monotonic()

    def going(self) -> bool:
        elapsed = time.monotonic() - self._started
        if elapsed >= GIVE_UP:
            return False
        return elapsed < RUN_FOR or any(self.seen[o] <= SEEN_ENOUGH for o in self._outcomes)


@pytest.fixture(params=["descriptors", "handles"], autouse=True)
def walk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr("descript_mcp.files.local.SAFE_WALK", request.param == "descriptors")
    return str(request.param)


@contextmanager
def swapping(swap_once: callable) -> Iterator[list[int]]:  # type: ignore[valid-type]
    """Run `swap_once` in a loop on a thread while the body runs; yields the swap count."""
    stop = threading.Event()
    swaps = [0]

    def loop() -> None:
        while not stop.is_set():
            swap_once()
            swaps[0] += 1

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield swaps
    finally:
        stop.set()
        thread.join()


def test_a_file_swapped_for_a_link_is_never_read_through_it(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.wav").write_bytes(SECRET)
    (root / "ours.wav").write_bytes(OURS)
    victim = root / "victim.wav"

    def swap_once() -> None:
        os.link(root / "ours.wav", root / ".stage-file")
        os.replace(root / ".stage-file", victim)  # the file
        os.symlink(outside / "secret.wav", root / ".stage-link")
        os.replace(root / ".stage-link", victim)  # a link out of the root

    roots = Roots.of([root])
    race = Race("opened", "refused")
    with swapping(swap_once) as swaps:
        while race.going():
            try:
                with roots.open_readable(str(victim)) as file:
                    content = os.read(file.fd, len(SECRET) + len(OURS))
            except LocalFileError:
                race.seen["refused"] += 1
                continue
            race.seen["opened"] += 1
            assert content == OURS  # never the bytes outside
    assert swaps[0] > 100
    assert race.seen["opened"] > SEEN_ENOUGH  # the race was run, not only refused
    assert race.seen["refused"] > SEEN_ENOUGH


@pytest.mark.anyio
async def test_a_folder_swapped_for_a_link_never_receives_a_save(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()

    def swap_once() -> None:
        os.rename(root / "sub", root / "sub.away")
        os.symlink(outside, root / "sub")  # the folder now leads out of the root
        time.sleep(0.0005)
        os.unlink(root / "sub")
        os.rename(root / "sub.away", root / "sub")
        time.sleep(0.005)  # a quiet spell, so that saves between the swaps can succeed

    roots = Roots.of([root])
    saved: list[str] = []
    race = Race("saved", "refused")
    with swapping(swap_once) as swaps:
        number = 0
        while race.going():
            number += 1
            target = root / "sub" / f"out-{number}.wav"
            try:
                with roots.open_writable(str(target), overwrite=False) as place:
                    await anyio.sleep(0.001)  # a publish waits here; the folder is swapped
                    await write_file(place, OURS, overwrite=False)
                saved.append(target.name)
                race.seen["saved"] += 1
            except LocalFileError:
                race.seen["refused"] += 1
    assert swaps[0] > 50
    assert list(outside.iterdir()) == []  # nothing ever escaped
    assert sorted(p.name for p in (root / "sub").iterdir()) == sorted(saved)
    assert saved  # saves went through between the swaps
    assert race.seen["refused"]
