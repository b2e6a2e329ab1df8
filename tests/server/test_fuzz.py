"""Hostile and random input: every tool's arguments and the resource URIs, generated.

Whatever arrives, a call ends in a result or a clear error: never a crash, never the SDK's
bare "Error executing tool X" (its text for an exception nobody handled), and no file outside
the allowed folder is read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client, MCPError

from descript_mcp import DescriptClient
from descript_mcp.client.ledger import SubmissionLedger
from descript_mcp.sandbox import Sandbox, SandboxConfig
from descript_mcp.sandbox.media import synthesize_wav
from descript_mcp.server import build_server
from descript_mcp.server.tools.catalogue import entries
from descript_mcp.settings import Settings
from tests.conftest import FAST_POLL
from tests.server.conftest import API, SAMPLE, SERVER_RETRIES

FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**9), 10**9)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3)
    ),
    max_leaves=10,
)
ESCAPES = [
    "/etc/passwd",
    "../outside.wav",
    "{root}/../outside.wav",
    "{root}/link.wav",
    "{root}/sub",
    "{root}/missing.wav",
    "~/x.wav",
    "relative.wav",
    "{root}/ok.wav",
    "\x00",
    "/dev/null",
    "{root}/./ok.wav",
    "{root}/../written.mp4",
    "{root}/sub/../../written.txt",
]
OUTSIDE_BYTES = b"secret: outside the allowed folder"
BARE_ERROR = re.compile(r"Error executing tool \w+\s*")
TOOL_SCHEMAS = {entry.name: entry.input_schema for entry in entries()}


class Portal:
    """An MCP client over the sandbox, living in a portal thread, for sync property tests."""

    def __init__(
        self, portal: BlockingPortal, client: Client, root: Path, sandbox: Sandbox
    ) -> None:
        self.portal, self.client, self.root, self.sandbox = portal, client, root, sandbox

    def escaped(self) -> list[str]:
        """What got out of the allowed folder: the outside file uploaded, or anything written
        beside the folder (only the history and the outside file belong there)."""
        found = [
            f"uploaded {upload.media_key}"
            for upload in self.sandbox.world.uploads.values()
            if upload.head.startswith(OUTSIDE_BYTES)
        ]
        beside = {p.name for p in self.root.parent.iterdir()} - {"root", "outside.wav"}
        found += [f"wrote {name}" for name in beside if not name.startswith("h.sqlite3")]
        if (self.root.parent / "outside.wav").read_bytes() != OUTSIDE_BYTES:
            found.append("changed outside.wav")
        return found

    def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        return self.portal.call(self.client.call_tool, name, arguments)

    def read_resource(self, uri: str) -> Any:
        return self.portal.call(self.client.read_resource, uri)


@pytest.fixture(scope="module", params=["legacy", "auto"])
def fuzz_client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Portal]:
    base = tmp_path_factory.mktemp("fuzz")
    root = base / "root"
    (root / "sub").mkdir(parents=True)
    (root / "ok.wav").write_bytes(synthesize_wav(1.0))
    (base / "outside.wav").write_bytes(OUTSIDE_BYTES)
    (root / "link.wav").symlink_to(base / "outside.wav")
    sandbox = Sandbox(SandboxConfig.for_tests())

    def factory(token: str, *, ledger: SubmissionLedger) -> DescriptClient:
        return DescriptClient(
            token,
            ledger=ledger,
            base_url=API,
            transport=httpx.ASGITransport(app=sandbox.app),
            retry=SERVER_RETRIES,
        )

    settings = Settings(
        api_key=sandbox.token,
        api_url=API,
        history_path=base / "h.sqlite3",
        wait_seconds=1,
        roots=(root,),
        toolsets=("all",),
    )
    server = build_server(settings, client_factory=factory, poll_schedule=FAST_POLL)
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(sandbox),
        portal.wrap_async_context_manager(Client(server, mode=request.param)) as client,
    ):
        yield Portal(portal, client, root, sandbox)


def _paths(root: Path) -> st.SearchStrategy[str]:
    escapes = st.sampled_from([p.format(root=root) for p in ESCAPES])
    return escapes | escapes | escapes | st.text(max_size=30)  # mostly the escapes


def _media_items(root: Path) -> st.SearchStrategy[Any]:
    source = st.fixed_dictionaries(
        {},
        optional={
            "url": st.sampled_from(
                [
                    SAMPLE,
                    "https://drive.google.com/drive/folders/x",
                    "https://www.dropbox.com/sh/a/b",
                    "not a url",
                    "ftp://x/y",
                ]
            )
            | st.text(max_size=20),
            "path": _paths(root),
            "tracks": st.lists(st.fixed_dictionaries({"media": st.text(max_size=10)}), max_size=2),
            "language": st.text(max_size=5),
        },
    )
    # A path alone, under a name with an extension, is what reaches the upload: drawn often.
    upload = st.fixed_dictionaries({"path": _paths(root)})
    names = st.sampled_from(["talk.wav", "clip.mp4"]) | st.text(max_size=15)
    return st.dictionaries(names, upload | source | JSON_VALUES, max_size=3) | JSON_VALUES


def _arguments(schema: dict[str, Any], root: Path) -> st.SearchStrategy[dict[str, Any]]:
    special: dict[str, st.SearchStrategy[Any]] = {
        "add_media": _media_items(root),
        "path": _paths(root),
        "wait_seconds": st.none() | st.floats(-5, 0.5) | st.integers(601, 10**6) | JSON_VALUES,
    }
    names = list(schema.get("properties", {}))
    optional = {name: special.get(name, JSON_VALUES) for name in names}
    extras = st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=2)
    return st.builds(lambda a, b: {**b, **a}, st.fixed_dictionaries({}, optional=optional), extras)


@pytest.mark.parametrize("tool_name", sorted(TOOL_SCHEMAS))
@FUZZ
@given(data=st.data())
def test_any_arguments_get_a_result_or_a_clear_error(
    fuzz_client: Portal, tool_name: str, data: st.DataObject
) -> None:
    arguments = data.draw(_arguments(TOOL_SCHEMAS[tool_name], fuzz_client.root))
    result = fuzz_client.call_tool(tool_name, arguments)
    text = " ".join(getattr(block, "text", "") for block in result.content)
    if result.is_error:
        assert not BARE_ERROR.fullmatch(text), (arguments, text)
    assert "secret" not in json.dumps(result.structured_content or {})
    assert fuzz_client.escaped() == [], arguments


@FUZZ
@given(data=st.data())
def test_no_generated_path_uploads_a_file_from_outside_the_root(
    fuzz_client: Portal, data: st.DataObject
) -> None:
    """Imports valid but for their paths, so each one reaches the confinement check."""
    names = st.sampled_from(["talk.wav", "clip.mp4", "voice.m4a"])
    paths = st.dictionaries(names, _paths(fuzz_client.root), min_size=1, max_size=3)
    add_media = {name: {"path": path} for name, path in data.draw(paths).items()}
    result = fuzz_client.call_tool(
        "import_media", {"project_name": "Fuzz", "add_media": add_media, "wait_seconds": 0}
    )
    if result.is_error:
        assert not BARE_ERROR.fullmatch(result.content[0].text), add_media
    assert fuzz_client.escaped() == [], add_media


@FUZZ
@given(tail=st.text(max_size=60))
def test_any_resource_uri_gets_content_or_a_clear_error(fuzz_client: Portal, tail: str) -> None:
    for base in ("descript://jobs/", "descript://projects/", "descript://"):
        failure = None
        try:
            contents = fuzz_client.read_resource(base + tail).contents
        except MCPError as error:
            failure = error.error
        if failure is None:
            json.loads(contents[0].text)
        else:
            assert failure.message.strip()
            assert failure.code in (-32602, -32603), failure
