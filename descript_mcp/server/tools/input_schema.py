"""The input schema a model reads, without what pydantic adds for other readers: a title on
every property and model, `anyOf [X, null]` around every optional argument with its `default:
null`, and on nested models their descriptions (already given where they are used) and
`additionalProperties: false` (the server refuses an unknown field, naming those it accepts).

Only what the model is shown changes: the arguments are still validated by the tool's pydantic
model, which accepts an explicit null wherever the argument is optional."""

from __future__ import annotations

from typing import Any


def lean(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` (a tool's input schema, as pydantic derives it) without the noise."""
    slim: dict[str, Any] = _lean_node(schema)
    slim.pop("title", None)
    definitions = slim.get("$defs")
    if definitions:
        slim["$defs"] = {name: _nested(node) for name, node in definitions.items()}
    return slim


def _lean_node(node: Any) -> Any:
    if isinstance(node, list):
        return [_lean_node(item) for item in node]
    if not isinstance(node, dict):
        return node
    slim = {key: value for key, value in node.items() if key != "title"}
    options = slim.get("anyOf")
    if isinstance(options, list):
        present = [option for option in options if option != {"type": "null"}]
        if len(present) == 1 and len(present) < len(options):  # optional: the null goes
            del slim["anyOf"]
            slim = {**present[0], **slim}
    if "default" in slim and slim["default"] is None:  # optional already: not in `required`
        del slim["default"]
    return {key: _lean_value(key, value) for key, value in slim.items()}


def _lean_value(key: str, value: Any) -> Any:
    if key in ("properties", "$defs"):  # maps of names, any name a property may have
        return {name: _lean_node(node) for name, node in value.items()}
    if key in ("default", "const", "enum", "examples"):  # values, not schemas
        return value
    return _lean_node(value)


def _nested(definition: dict[str, Any]) -> dict[str, Any]:
    """A nested model as the model needs it: described where used, and unknown fields refused
    by the server with the names it accepts (so `additionalProperties` need not be shown)."""
    return {
        key: value
        for key, value in definition.items()
        if key not in ("description", "additionalProperties")
    }
