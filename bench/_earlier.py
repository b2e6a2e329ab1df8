"""descript-mcp as it was before the hosted mode came in, to measure beside the code of now:
what a local server cost then, on the same machine in the same run."""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# The last commit before the hosted mode's first part (the OAuth store) landed.
EARLIER = "89bd123"
REPOSITORY = Path(__file__).resolve().parents[1]


def earlier_code(folder: Path) -> Path | None:
    """The package as it was at EARLIER, unpacked in `folder` (run it with `from_code`); None
    without the git history (a source archive, a shallow clone)."""
    archive = subprocess.run(
        ["git", "-C", str(REPOSITORY), "archive", "--format=tar", EARLIER, "descript_mcp"],
        capture_output=True,
    )
    if archive.returncode != 0:
        return None
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as unpacked:
        unpacked.extractall(folder, filter="data")
    return folder


def from_code(code: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """The working folder and environment (`env` and more) of a process that runs the package
    under `code`: `python -m` and `-c` look in their working folder first, then PYTHONPATH."""
    return {"cwd": code, "env": {**env, "PYTHONPATH": str(code)}}
