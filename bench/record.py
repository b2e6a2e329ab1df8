"""Figures kept as a run printed them: `--record` writes a run's rows to bench/results/, and
docs/performance.md's table is made from those files (tests/test_docs.py), so every figure in
the docs is one a benchmark printed, with the command that prints it."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
# The runs the docs show, in this order: a file's name and the command that writes it.
RECORDED = {
    "run": "python -m bench.run --record",
    "coldstart": "python -m bench.coldstart --record",
    "call_instructions": "python -m bench.call_instructions --record",
}

Rows = list[tuple[str, str]]


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def record(name: str, rows: Rows) -> Path:
    """Keep `rows` as run `name`'s latest figures."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    kept: dict[str, Any] = {
        "command": RECORDED[name],
        "measured": datetime.now(UTC).date().isoformat(),
        "machine": machine(),
        "rows": [list(row) for row in rows],
    }
    path.write_text(json.dumps(kept, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def report(name: str, rows: Rows, keep: bool) -> None:
    """Print a run's rows, aligned; if `keep`, keep them as run `name`'s figures too."""
    width = max(len(what) for what, _ in rows)
    for what, figure in rows:
        print(f"{what:<{width}}  {figure}")
    if keep:
        print(f"kept in {record(name, rows)}")


def figures_table() -> str:
    """The recorded runs as the docs show them: for each, its command, when and where it ran,
    and a row per figure."""
    parts: list[str] = []
    for name in RECORDED:
        path = RESULTS / f"{name}.json"
        if not path.exists():
            continue
        kept = json.loads(path.read_text(encoding="utf-8"))
        parts += [
            f"`{kept['command']}`, measured {kept['measured']} ({kept['machine']}):",
            "",
            "| Figure | Measured |",
            "|---|---|",
            *(f"| {_cell(what)} | {_cell(figure)} |" for what, figure in kept["rows"]),
            "",
        ]
    return "\n".join(parts).rstrip()


def _cell(text: str) -> str:
    return text.replace("|", "/")
