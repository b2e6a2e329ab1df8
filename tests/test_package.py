"""The package's shape: its public surface, and which layer may import what."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import descript_mcp
from descript_mcp import errors

PACKAGE = Path(descript_mcp.__file__).parent


def test_public_names_exist_and_every_error_class_is_exported() -> None:
    exported = descript_mcp.__all__
    assert len(exported) == len(set(exported))  # ruff (RUF022) keeps the order
    assert [name for name in exported if not hasattr(descript_mcp, name)] == []
    error_classes = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.DescriptError)
    }
    assert error_classes <= set(exported)


def test_the_client_layer_imports_no_mcp_and_no_sandbox() -> None:
    probe = (
        "import sys, descript_mcp, descript_mcp.client.api, descript_mcp.client.waiter;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('mcp', 'starlette', 'uvicorn') or m.startswith('descript_mcp.sandbox')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_the_sandbox_imports_nothing_from_the_client_side() -> None:
    """An independent oracle: a bug in the client's models must not be copied into it."""
    offenders = []
    for source in (PACKAGE / "sandbox").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = node.module
                if module.startswith("descript_mcp") and not module.startswith(
                    "descript_mcp.sandbox"
                ):
                    offenders.append(f"{source.name}: {module}")
    assert offenders == []
