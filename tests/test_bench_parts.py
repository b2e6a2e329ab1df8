"""The cold-start and call benchmarks count instructions under valgrind, which CI does not run:
here their scripts run plainly, so a renamed function cannot silently break them."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bench._earlier import earlier_code, from_code
from bench._sandbox import sandbox_process, stopped_jobs
from bench.call_instructions import calling
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


@pytest.mark.parametrize("server", ["floor", "now", "earlier"])
def test_each_server_counted_per_call_reads_the_jobs(server: str, tmp_path: Path) -> None:
    code = Path(__file__).resolve().parents[1]
    if server == "earlier":
        unpacked = earlier_code(tmp_path / "earlier")
        if unpacked is None:
            pytest.skip("the earlier code comes from the git history, which this copy lacks")
        code = unpacked
    history = tmp_path / "history.sqlite3"
    with sandbox_process() as api:
        jobs = stopped_jobs(api, 3)
        (tmp_path / "jobs.json").write_text(json.dumps(jobs))
        which = "floor" if server == "floor" else "ours"
        done = subprocess.run(
            calling(which, api, tmp_path / "jobs.json", history),
            **from_code(code, os.environ),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    if which == "ours":  # each call read its job and recorded it
        with sqlite3.connect(history) as db:
            recorded = {job_id for (job_id,) in db.execute("SELECT job_id FROM jobs")}
        assert recorded == set(jobs)
