"""The package's shape: its public surface, and which layer may import what."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath

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


def test_the_client_history_and_files_import_no_mcp_and_no_sandbox() -> None:
    probe = (
        "import sys, descript_mcp, descript_mcp.client.api, descript_mcp.client.waiter,"
        " descript_mcp.history, descript_mcp.history.ledger, descript_mcp.files.transfer;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('mcp', 'starlette', 'uvicorn') or m.startswith('descript_mcp.sandbox')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_the_sandbox_imports_nothing_from_the_client_side() -> None:
    """An independent oracle: a bug in the client's models must not be copied into it."""
    offenders = [
        f"{module}: {target}"
        for module, targets in IMPORTS.items()
        if module.startswith("descript_mcp.sandbox")
        for target in targets
        if not target.startswith("descript_mcp.sandbox")
    ]
    assert offenders == []


def test_the_layers_import_only_downward() -> None:
    """The command line may import the server, which may import the history, the files and
    the client; nothing imports the command line, and the lower layers nothing above them."""
    above = {
        "client": ("history", "files", "server", "cli"),
        "history": ("files", "server", "cli"),
        "files": ("history", "server", "cli"),
        "server": ("cli",),
    }
    offenders = [
        f"{module} -> {target}"
        for module, targets in IMPORTS.items()
        for target in targets
        for layer, forbidden in above.items()
        if _within(module, layer) and any(_within(target, upper) for upper in forbidden)
    ]
    # Nothing outside the command line imports it, but `python -m descript_mcp`.
    offenders += [
        f"{module} -> {target}"
        for module, targets in IMPORTS.items()
        for target in targets
        if _within(target, "cli") and not _within(module, "cli")
        if module != "descript_mcp.__main__"
    ]
    assert offenders == []


def _within(module: str, package: str) -> bool:
    name = f"descript_mcp.{package}"
    return module == name or module.startswith(name + ".")


def test_no_module_is_part_of_an_import_circle() -> None:
    """Module by module, imports inside functions and for type checking included."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in IMPORTS[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = [stack.pop()]
            while component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                circles.append(component)

    for module in IMPORTS:
        if module not in index:
            visit(module)
    assert circles == []


def test_no_module_is_over_400_lines() -> None:
    """Outside the sandbox's data tables (none yet) and the benchmarks."""
    long = {
        str(path.relative_to(PACKAGE)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > 400
    }
    assert long == {}


def _imports() -> dict[str, set[str]]:
    """Each module of the package and the modules of the package it imports (`from package
    import submodule` counts as the submodule)."""

    def name(path: Path) -> str:
        parts = ["descript_mcp", *path.relative_to(PACKAGE).with_suffix("").parts]
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    modules = {name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                named = [f"{node.module}.{alias.name}" for alias in node.names]
                subs = [n for n in named if n in modules]
                targets |= set(subs) if len(subs) == len(named) else {node.module, *subs}
            elif isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
        graph[module] = {t for t in targets if t in modules and t != module}
    return graph


IMPORTS = _imports()


def test_every_file_the_package_reads_is_declared_package_data() -> None:
    """A wheel carries only the Python files and the declared data: the job view's page and the
    tools' catalogue, read at start-up, must be among them, or installs from PyPI and the image
    would fail. A pattern is relative to its package's folder, and may name a folder in it."""
    declared = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    data = [
        path
        for path in PACKAGE.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    ]
    assert data  # the job view's page at least
    for path in data:
        parts = path.relative_to(PACKAGE).parts
        matched = [
            (package, pattern)
            for cut in range(len(parts))  # each package the file is in, and its path there
            for package in [".".join(["descript_mcp", *parts[:cut]])]
            for pattern in declared.get(package, [])
            if PurePosixPath(*parts[cut:]).match(pattern)
            and len(PurePosixPath(pattern).parts) == len(parts) - cut
        ]
        assert matched, path
