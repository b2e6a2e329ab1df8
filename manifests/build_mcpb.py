"""Pack the Claude Desktop extension (MCPB): the manifest, the package's source and its
pyproject.toml (the host installs the dependencies with uv). Needs `mcpb` from npm
(`npm i -g @anthropic-ai/mcpb`).

    python manifests/build_mcpb.py [OUTPUT_DIR]      # writes descript-mcp-<version>.mcpb
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ("pyproject.toml", "README.md", "LICENSE", "descript_mcp")


def build(output_dir: Path) -> Path:
    mcpb = shutil.which("mcpb")
    if mcpb is None:
        raise SystemExit("mcpb is not installed: npm i -g @anthropic-ai/mcpb")
    manifest = json.loads((ROOT / "manifests" / "mcpb" / "manifest.json").read_text())
    output_dir.mkdir(parents=True, exist_ok=True)
    bundle = output_dir / f"descript-mcp-{manifest['version']}.mcpb"
    with tempfile.TemporaryDirectory() as staging:
        stage = Path(staging)
        shutil.copy(ROOT / "manifests" / "mcpb" / "manifest.json", stage / "manifest.json")
        for name in BUNDLED:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(
                    source, stage / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
            else:
                shutil.copy(source, stage / name)
        subprocess.run([mcpb, "validate", str(stage / "manifest.json")], check=True)
        subprocess.run(
            [mcpb, "pack", str(stage), str(bundle)], check=True, stdout=subprocess.DEVNULL
        )
    return bundle


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "dist"))
