"""The docs stay true: the README's tools table is made from the tools themselves, the
command-line reference from the parser and the performance figures from the benchmarks' recorded
output, the README stays short enough to read, and every link between the docs leads somewhere.

After an intended change to a tool or a flag, or a benchmark run with `--record`,
`UPDATE_DOCS=1 pytest tests/test_docs.py` rewrites what is made (and passes); review the
diff."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from bench.record import figures_table
from descript_mcp.cli.main import _parser
from descript_mcp.server.tools import OPT_IN, REMOTE_DEFAULT
from descript_mcp.server.tools.catalogue import entries

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
COMMAND_LINE = ROOT / "docs" / "command-line.md"
PERFORMANCE = ROOT / "docs" / "performance.md"
MAX_README_BYTES = 12 * 1024
DOCS = [
    README,
    ROOT / "CONTRIBUTING.md",
    ROOT / "CHANGELOG.md",
    ROOT / "SECURITY.md",
    *sorted((ROOT / "docs").glob("*.md")),
]


def _first_sentence(description: str) -> str:
    paragraph = " ".join(description.split("\n\n")[0].split())
    match = re.match(r"(.+?\.)(?:\s|$)", paragraph)
    return match.group(1) if match else paragraph


def tools_table() -> str:
    """One row per tool, in the order the server lists them (but those only a view calls):
    name, what its description says first, its toolset (opt-in ones marked), whether it only
    reads, and what a call costs on the Descript account."""
    rows = ["| Tool | What it does | Toolset | Reads only | Cost |", "|---|---|---|---|---|"]
    for entry in entries():
        spec = entry.spec
        if spec.app_only:  # a view's, not a person's or a model's
            continue
        group = entry.toolset
        if group in OPT_IN:
            group += " (HTTP; opt-in on stdio)" if group in REMOTE_DEFAULT else " (opt-in)"
        reads = "yes" if spec.annotations.read_only_hint else "no"
        what = _first_sentence(entry.description)
        rows.append(f"| `{entry.name}` | {what} | {group} | {reads} | {spec.cost} |")
    return "\n".join(rows)


def command_line_reference() -> str:
    """Every command of `descript-mcp`, its arguments and their help, as the parser has them."""
    lines: list[str] = []

    def describe(name: str, parser: argparse.ArgumentParser) -> None:
        arguments = [
            a
            for a in parser._actions
            if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
        ]
        if arguments:
            lines.extend([f"### `{name}`", "", "| Argument | What it does |", "|---|---|"])
            lines.extend(
                f"| `{_spelled(a)}` | {(a.help or '').replace('|', '/')} |" for a in arguments
            )
            lines.append("")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, subparser in action.choices.items():
                    describe(f"{name} {sub}", subparser)

    describe("descript-mcp", _parser())
    return "\n".join(lines).rstrip()


def _spelled(action: argparse.Action) -> str:
    """An argument as typed: its flags and what it takes."""
    if not action.option_strings:
        return (
            action.metavar or action.dest if isinstance(action.metavar, str | None) else action.dest
        )
    takes = ""
    if action.nargs != 0:
        if action.choices:
            takes = " {" + ",".join(map(str, action.choices)) + "}"
        else:
            takes = " " + (
                action.metavar if isinstance(action.metavar, str) else action.dest.upper()
            )
    return ", ".join(action.option_strings) + takes


MADE = {
    (README, "tools"): tools_table,
    (COMMAND_LINE, "reference"): command_line_reference,
    # What the benchmarks printed when run with --record (bench/results/).
    (PERFORMANCE, "figures"): figures_table,
}


def _made(text: str, section: str, content: str) -> str:
    start, end = f"<!-- {section}: made by tests/test_docs.py -->", f"<!-- /{section} -->"
    assert start in text, f"the opening marker of the {section} section is gone"
    assert end in text, f"the closing marker of the {section} section is gone"
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    return f"{before}{start}\n{content}\n{end}{after}"


def test_what_is_made_from_the_code_is_current() -> None:
    """Each made section equals what the code makes; with UPDATE_DOCS=1 it is rewritten, and
    the test passes on that run."""
    stale = []
    for (path, section), make in MADE.items():
        text = path.read_text(encoding="utf-8")
        expected = _made(text, section, make())
        if text == expected:
            continue
        if os.environ.get("UPDATE_DOCS") == "1":
            path.write_text(expected, encoding="utf-8")
        else:
            stale.append(f"{path.relative_to(ROOT)} ({section})")
    assert not stale, (
        f"made from the code and out of date: {', '.join(stale)}; run UPDATE_DOCS=1 pytest "
        "tests/test_docs.py and review the diff"
    )


def test_first_sentence_stops_at_the_first_full_stop() -> None:
    assert _first_sentence("Read a job.\nThen more.\n\nArgs.") == "Read a job."
    assert _first_sentence("No stop at all") == "No stop at all"
    assert _first_sentence("Uses v1.2 of the API. More.") == "Uses v1.2 of the API."


def test_readme_is_short() -> None:
    size = len(README.read_bytes())
    assert size <= MAX_README_BYTES, (
        f"README.md is {size} bytes; keep it under {MAX_README_BYTES} and move detail to docs/"
    )


def test_readme_opens_with_the_two_commands() -> None:
    block = README.read_text(encoding="utf-8").split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.splitlines()]
    assert commands == [
        "pip install -e . && descript-mcp demo",
        "pip install -e '.[test]' && pytest",
    ]


def test_links_between_docs_lead_somewhere() -> None:
    broken = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # a web address
            path, _, anchor = target.partition("#")
            file = (doc.parent / path).resolve() if path else doc
            if not file.exists():
                broken.append(f"{doc.name}: {target}")
            elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
                broken.append(f"{doc.name}: {target} (no such heading)")
    assert not broken, f"links that lead nowhere: {broken}"


def _anchors(doc: Path) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", doc.read_text(encoding="utf-8"), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


ARCHITECTURE = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "descript_mcp"


def test_the_layout_names_every_module_and_nothing_else() -> None:
    """docs/architecture.md's drawing of the layers names each module of the package by its
    file name, and names no file that is not there."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    drawing = text.split("## The layers", 1)[1].split("```", 2)[1]
    named = set(re.findall(r"\b(\w+\.(?:py|html))\b", drawing))
    files = {
        path.name
        for path in PACKAGE.rglob("*")
        if path.suffix in (".py", ".html")
        and path.name not in ("__init__.py", "__main__.py", "_version.py")
        and "__pycache__" not in path.parts
    }
    assert named - files == set(), "the drawing names files that do not exist"
    assert files - named == set(), "modules the drawing of the layers leaves out"


def test_the_paths_the_architecture_names_exist() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    paths = re.findall(r"`((?:descript_mcp|tests|bench)?/?[\w/]+/\w+\.(?:py|html|json))", text)
    missing = [
        path for path in paths if not (ROOT / path).exists() and not (PACKAGE / path).exists()
    ]
    assert paths
    assert missing == []
