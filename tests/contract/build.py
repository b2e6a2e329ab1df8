"""Make tests/contract/descript-api.json from Descript's reference in ../shared/reference: the
newest official OpenAPI spec (descript-openapi-newer.yaml), the undocumented routes as live
reports found them (descript-openapi-additions.yml), and the live deltas the notes document,
with descriptions, examples and everything else the checker does not read left out.

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
NEWER_SPEC = "descript-openapi-newer.yaml"
ADDITIONS = "descript-openapi-additions.yml"
# The routes Descript does not document, taken from the additions with what they refer to.
UNDOCUMENTED = ("/jobs/export/timeline", "/jobs/import/drive_media")
METHODS = ("get", "post", "put", "delete", "patch")
# What the checker reads of an operation; of a schema, what JSON Schema validates with.
OPERATION_KEYS = {"parameters", "requestBody", "responses"}
DROPPED = {"description", "summary", "example", "examples", "x-evidence", "title", "tags"}


def build(reference: Path) -> dict[str, Any]:
    spec = yaml.safe_load((reference / NEWER_SPEC).read_text())
    additions = yaml.safe_load((reference / ADDITIONS).read_text())
    for path in UNDOCUMENTED:
        spec["paths"][path] = additions["paths"][path]
    for section, items in additions["components"].items():
        known = spec["components"].setdefault(section, {})
        known.update({name: item for name, item in items.items() if name not in known})
    _apply_live_deltas(spec)
    paths = {
        path: {m: _keep(op, OPERATION_KEYS) for m, op in ops.items() if m in METHODS}
        for path, ops in spec["paths"].items()
    }
    return {
        "x-source": {
            "files": [NEWER_SPEC, ADDITIONS],
            "from": "shared/reference, with the live deltas of descript-api-notes.md applied",
            "made": datetime.now(UTC).date().isoformat(),
        },
        "paths": _stripped(paths),
        "components": _stripped(spec["components"]),
    }


def _apply_live_deltas(spec: dict[str, Any]) -> None:
    """Where live answers differ from the spec's words, as descript-api-notes.md documents."""
    schemas = spec["components"]["schemas"]
    # Live job ids are prefixed strings such as project-media-import-<uuid> (notes §2.0).
    for operation in ("/jobs/import/project_media", "/jobs/agent", "/jobs/publish"):
        created = spec["paths"][operation]["post"]["responses"]["201"]
        created["content"]["application/json"]["schema"]["properties"]["job_id"].pop("format", None)
    for schema in schemas.values():
        schema.get("properties", {}).get("job_id", {}).pop("format", None)
    # Jobs of the undocumented routes are read back like any other (notes §2.2, §2.13); the
    # spec's discriminator already names export/timeline, without its schema.
    additions = {
        "export/timeline": "TimelineExportJobStatus",
        "import/drive_media": "DriveImportJobStatus",
    }
    status = schemas["JobStatus"]
    for job_type, name in additions.items():
        status["oneOf"].append({"$ref": f"#/components/schemas/{name}"})
        status["discriminator"]["mapping"][job_type] = f"#/components/schemas/{name}"
    # Typed date-time, but described as taking "an ISO 8601 date (`2026-08-01` …) or
    # timestamp" (notes item 26).
    for parameter in spec["paths"]["/search"]["get"]["parameters"]:
        if parameter["name"] in ("updated_after", "updated_before"):
            parameter["schema"] = {
                "anyOf": [
                    {"type": "string", "format": "date"},
                    {"type": "string", "format": "date-time"},
                ]
            }
    # Typed integer, but live values are fractional (notes §2.2).
    for schema in schemas.values():
        if "ai_credits_used" in schema.get("properties", {}):
            schema["properties"]["ai_credits_used"] = {"type": "number"}


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
