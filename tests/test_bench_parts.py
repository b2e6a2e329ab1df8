"""The cold-start benchmark counts start-up in parts, under valgrind, which CI does not run:
here each part's script runs plainly, so a renamed function cannot silently break it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.coldstart import PARTS


@pytest.mark.parametrize("part", PARTS)
def test_each_part_of_start_up_builds_and_exits(part: str, tmp_path: Path) -> None:
    script = tmp_path / "part.py"
    script.write_text(PARTS[part])
    env = {
        **os.environ,
        "DESCRIPT_MCP_HISTORY": str(tmp_path / "history.sqlite3"),
        "DESCRIPT_API_KEY": "bench",
    }
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
