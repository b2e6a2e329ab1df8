"""The docs stay true: the README's tools table is made from the tools themselves, the README
stays short enough to read, and every link between the docs leads somewhere.

After an intended change to a tool, `UPDATE_README=1 pytest tests/test_docs.py` rewrites the
table; review the diff."""

from __future__ import annotations

import os
import re
from pathlib import Path

from descript_mcp.server.tools import OPT_IN, TOOLSETS
from descript_mcp.server.tools.registry import SPEC, ToolSpec, build, marked

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- tools: made by tests/test_docs.py -->", "<!-- /tools -->"
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
    for name, toolset in TOOLSETS.items():
        for fn in marked(toolset):
            spec: ToolSpec = getattr(fn, SPEC)
            if spec.app_only:  # a view's, not a person's or a model's
                continue
            built = build(fn)
            group = f"{name} (opt-in)" if name in OPT_IN else name
            reads = "yes" if spec.annotations.read_only_hint else "no"
            what = _first_sentence(built.description)
            rows.append(f"| `{built.name}` | {what} | {group} | {reads} | {spec.cost} |")
    return "\n".join(rows)


def _with_table(text: str) -> str:
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}\n{tools_table()}\n{END}{after}"


def test_readme_tools_table_is_made_from_the_tools() -> None:
    text = README.read_text(encoding="utf-8")
    assert START in text, "the README lost its tools table's opening marker"
    assert END in text, "the README lost its tools table's closing marker"
    expected = _with_table(text)
    if os.environ.get("UPDATE_README") == "1":
        README.write_text(expected, encoding="utf-8")
    assert text == expected, (
        "the README's tools table differs from the tools: run "
        "UPDATE_README=1 pytest tests/test_docs.py and review the diff"
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
