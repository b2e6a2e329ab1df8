"""Recorded requests and answers checked against Descript's contract (descript-api.json: its
newest spec, the undocumented routes as observed and the documented live deltas; build.py)."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS30Validator, oas30_format_checker

CONTRACT = Path(__file__).with_name("descript-api.json")


def load_contract() -> dict[str, Any]:
    """The contract as tests/contract/build.py made it from Descript's reference."""
    contract: dict[str, Any] = json.loads(CONTRACT.read_text())
    return contract


@dataclass
class Exchange:
    method: str
    path: str
    query: list[tuple[str, str]]
    request_body: bytes
    status: int
    content_type: str
    response_body: bytes


class ContractViolationError(AssertionError):
    pass


class Contract:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self._routes = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path)
            for path in spec["paths"]
        ]

    def operation(self, method: str, path: str) -> dict[str, Any]:
        # A literal path wins over a templated one (/jobs/agent over /jobs/{job_id}).
        matches = sorted((t for rx, t in self._routes if rx.match(path)), key=lambda t: "{" in t)
        if not matches or method.lower() not in self.spec["paths"][matches[0]]:
            raise ContractViolationError(f"{method} {path} is not in the spec")
        return self.spec["paths"][matches[0]][method.lower()]

    def check(self, exchange: Exchange) -> None:
        where = f"{exchange.method} {exchange.path}"
        operation = self.operation(exchange.method, exchange.path)
        self._check_query(operation, exchange, where)
        if "requestBody" in operation:
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            self._validate(json.loads(exchange.request_body), schema, f"{where} request")
        response = operation["responses"].get(str(exchange.status))
        if response is None:
            raise ContractViolationError(f"{where} answered {exchange.status}, not in the spec")
        response = self._resolve(response)
        content = response.get("content")
        if not content:
            if exchange.response_body:
                raise ContractViolationError(f"{where} {exchange.status} should have no body")
            return
        media_type = exchange.content_type.split(";")[0].strip()
        if media_type not in content:
            raise ContractViolationError(f"{where} answered {media_type}, spec has {list(content)}")
        if media_type == "application/json":
            body = json.loads(exchange.response_body)
            self._validate(body, content[media_type]["schema"], f"{where} {exchange.status}")

    def _check_query(self, operation: dict[str, Any], exchange: Exchange, where: str) -> None:
        declared = {
            p["name"]: p
            for p in map(self._resolve, operation.get("parameters", []))
            if p["in"] == "query"
        }
        for name in {name for name, _ in exchange.query}:
            if name not in declared:
                raise ContractViolationError(f"{where} sends undeclared query parameter {name!r}")
            values = [v for n, v in exchange.query if n == name]
            schema = declared[name]["schema"]
            if schema.get("type") == "array":
                self._validate(values, schema, f"{where} ?{name}")
            else:
                value: Any = int(values[0]) if schema.get("type") == "integer" else values[0]
                self._validate(value, schema, f"{where} ?{name}")

    def _validate(self, instance: Any, schema: dict[str, Any], where: str) -> None:
        validator = OAS30Validator(self._resolve_all(schema), format_checker=oas30_format_checker)
        errors = sorted(validator.iter_errors(instance), key=lambda e: e.path)
        if errors:
            raise ContractViolationError(f"{where}: {errors[0].message} at {list(errors[0].path)}")

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def _resolve_all(self, node: Any) -> Any:
        if isinstance(node, dict):
            node = self._resolve(node)
            # A discriminator's mapping names $refs; the oneOf's disjoint enums decide the same.
            return {k: self._resolve_all(v) for k, v in node.items() if k != "discriminator"}
        if isinstance(node, list):
            return [self._resolve_all(v) for v in node]
        return copy.copy(node)
