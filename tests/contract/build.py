"""Make tests/contract/descript-api.json from Descript's reference in ../shared/reference:
the May 2026 OpenAPI spec, the operations added since, and the documented live deltas, with
descriptions, examples and everything else the checker does not read left out.

    python -m tests.contract.build [REFERENCE_DIR]

The contract tests read the JSON, so they run from any clone; run this again when the
reference changes, and review the diff.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
CONTRACT = HERE / "descript-api.json"
REFERENCE = HERE.parents[2] / "shared" / "reference"
MAY_SPEC = "descript-openapi-2026-05.json"
ADDITIONS = "descript-openapi-additions.yml"
METHODS = ("get", "post", "put", "delete", "patch")
# What the checker reads of an operation; of a schema, what JSON Schema validates with.
OPERATION_KEYS = {"parameters", "requestBody", "responses"}
DROPPED = {"description", "summary", "example", "examples", "x-evidence", "title", "tags"}


def build(reference: Path) -> dict[str, Any]:
    spec = json.loads((reference / MAY_SPEC).read_text())
    additions = yaml.safe_load((reference / ADDITIONS).read_text())
    for path, operations in additions["paths"].items():
        target = spec["paths"].setdefault(path, {})
        target.update({m: op for m, op in operations.items() if m in METHODS})
    for section, items in additions["components"].items():
        spec["components"].setdefault(section, {}).update(items)
    _apply_documented_deltas(spec)
    paths = {
        path: {m: _keep(op, OPERATION_KEYS) for m, op in ops.items() if m in METHODS}
        for path, ops in spec["paths"].items()
    }
    return {
        "x-source": {
            "files": [MAY_SPEC, ADDITIONS],
            "from": "shared/reference, with the deltas of descript-api-notes.md applied",
            "made": datetime.now(UTC).date().isoformat(),
        },
        "paths": _stripped(paths),
        "components": _stripped(spec["components"]),
    }


def _apply_documented_deltas(spec: dict[str, Any]) -> None:
    """The changes the additions file lists under x-deltas-since-2026-05 for the two operations
    it does not restate, and two live facts from descript-api-notes.md."""
    schemas = spec["components"]["schemas"]
    imports = spec["paths"]["/jobs/import/project_media"]["post"]
    body = imports["requestBody"]["content"]["application/json"]["schema"]["properties"]
    body["workspace_name"] = {"type": "string"}
    clip = body["add_compositions"]["items"]["properties"]["clips"]["items"]
    clip["properties"]["mute"] = {"type": "boolean"}
    sequence = body["add_media"]["additionalProperties"]["oneOf"][2]
    sequence["properties"]["tracks"]["items"]["properties"]["mute"] = {"type": "boolean"}
    agent = spec["paths"]["/jobs/agent"]["post"]
    agent["responses"]["403"] = {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error403"}}}
    }
    for operation, extra in (
        (imports, {}),
        (agent, {"conversation_id": {"type": "string"}, "resolved_model": {"type": "string"}}),
    ):
        created = operation["responses"]["201"]["content"]["application/json"]["schema"]
        created["properties"] |= {"drive_name": {"type": "string", "nullable": True}, **extra}
        # Live job ids are prefixed strings such as project-media-import-<uuid> (notes §2.0).
        created["properties"]["job_id"].pop("format", None)
    # Typed integer, but live values are fractional (notes §2.2).
    schemas["AgentSuccessResult"]["properties"]["ai_credits_used"] = {"type": "number"}


def _keep(operation: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {key: value for key, value in operation.items() if key in keys}


def _stripped(node: Any) -> Any:
    """`node` without prose: descriptions, examples, titles, evidence notes. A property of that
    name inside `properties` is data, and stays."""
    if isinstance(node, dict):
        return {
            key: (
                {name: _stripped(schema) for name, schema in value.items()}
                if key == "properties" and isinstance(value, dict)
                else _stripped(value)
            )
            for key, value in node.items()
            if key not in DROPPED
        }
    if isinstance(node, list):
        return [_stripped(item) for item in node]
    return node


def main() -> int:
    reference = Path(sys.argv[1]) if len(sys.argv) > 1 else REFERENCE
    CONTRACT.write_text(json.dumps(build(reference), indent=1, sort_keys=True) + "\n")
    print(f"wrote {CONTRACT} from {reference}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
