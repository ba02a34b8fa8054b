"""CERN MONIT notifications: the body and headers the ActiveMQ sink sends, and their type validation.

Pure functions only. MONIT wants dates in epoch milliseconds and a `metadata` object with its reserved keys
(producer, type, _id, timestamp); everything else in `metadata` is ours (spider_git_hash, spider_source, ...).
The validation schema plays the role of the reference's JobMonitoring.json: MONIT flags documents whose field
types differ from it, so we check before sending, with the same leniency (null is fine anywhere, an int is a
valid float, unknown keys pass).
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

MONIT_TYPE = "metric"
SCHEMA_ID = "spider.monit/1"
SCHEMA_FILE = "monit.v1.schema.json"

Policy = Literal["warn", "drop", "dead-letter"]

# Registry type -> JSON Schema type of the value MONIT receives. Dates are epoch milliseconds, and epoch
# seconds with a fraction (CRAB_PostJobLastUpdate) give fractional milliseconds, hence "number".
_JSON_TYPES: dict[str, str] = {
    "date": "number",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "string": "string",
    "object": "object",
}


class NotificationError(ValueError):
    """The document cannot become a MONIT notification (the reason is safe to log and dead-letter)."""


def date_fields(registry: Mapping[str, Any]) -> frozenset[str]:
    """Names of the fields the registry types as dates (converted to milliseconds for MONIT)."""
    return frozenset(name for name, spec in registry["fields"].items() if spec.get("type") == "date")


def _to_millis(value: Any) -> Any:
    # bool is an int subclass and strings would multiply; only real numbers are epoch seconds.
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        millis = value * 1000
        return int(millis) if isinstance(millis, float) and millis.is_integer() else millis
    return value


def dates_to_millis(doc: Mapping[str, Any], dates: frozenset[str]) -> dict[str, Any]:
    """A copy of the document with every date field in epoch milliseconds; nulls and non-numbers kept as is."""
    return {key: _to_millis(value) if key in dates else value for key, value in doc.items()}


def notification_body(doc: Mapping[str, Any], doc_id: str, producer: str, dates: frozenset[str]) -> dict[str, Any]:
    """The MONIT body: the document with dates in ms, and `metadata` = spider metadata + MONIT's reserved keys.

    The reserved keys are set last so a document can never spoof them. timestamp = RecordTime, in ms.
    """
    record_time = doc.get("RecordTime")
    if not isinstance(record_time, numbers.Real) or isinstance(record_time, bool):
        raise NotificationError(f"RecordTime must be epoch seconds, got {type(record_time).__name__}")
    body = dates_to_millis(doc, dates)
    spider_metadata = body.pop("metadata", None) or {}
    if not isinstance(spider_metadata, Mapping):
        raise NotificationError(f"metadata must be an object, got {type(spider_metadata).__name__}")
    body["metadata"] = {
        **spider_metadata,
        "producer": producer,
        "type": MONIT_TYPE,
        "_id": doc_id,
        "timestamp": int(record_time * 1000),
    }
    return body


def stomp_headers(producer: str, version: str) -> dict[str, str]:
    """Headers of every SEND frame: MONIT routes on `producer`; `version` names the sending software."""
    return {"producer": producer, "version": version}


def _field_schema(name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """JSON Schema of one registry field; `nested` is a list of objects, `array: true` a list of that type."""
    kind = spec.get("type")
    if kind == "nested":
        item = {
            "type": "object",
            "properties": {key: _field_schema(f"{name}.{key}", sub) for key, sub in spec["properties"].items()},
        }
        return {"type": ["array", "null"], "items": item}
    if kind not in _JSON_TYPES:
        raise ValueError(f"field {name!r}: registry type {kind!r} has no MONIT type")
    if spec.get("array"):
        return {"type": ["array", "null"], "items": {"type": [_JSON_TYPES[kind], "null"]}}
    return {"type": [_JSON_TYPES[kind], "null"]}


def monit_schema(registry: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a MONIT body payload (without `metadata`), generated from the field-type registry."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "MONIT body of a CMS HTCondor job document (cms.jobmon.condor)",
        "description": "Generated from schemas/field_types.json by `python -m services.sinks.monit`; do not edit.",
        "type": "object",
        "properties": {name: _field_schema(name, spec) for name, spec in sorted(registry["fields"].items())},
        "additionalProperties": True,
    }


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def _accepts(allowed: tuple[type, ...], value: Any) -> bool:
    if isinstance(value, bool):
        return bool in allowed
    if isinstance(value, float) and int in allowed and float not in allowed:
        return value.is_integer()  # JSON Schema: 3.0 is an integer
    return isinstance(value, allowed)


Check = Callable[[Any], bool]


def _compile(node: Mapping[str, Any]) -> Check:
    """A predicate equivalent to the JSON Schema node, for the keywords `monit_schema` writes (type, items,
    properties)."""
    kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
    allowed = tuple(t for kind in kinds for t in _PY_TYPES[kind])
    items = _compile(node["items"]) if "items" in node else None
    props = {key: _compile(sub) for key, sub in node.get("properties", {}).items()}

    def check(value: Any) -> bool:
        if not _accepts(allowed, value):
            return False
        if items is not None and isinstance(value, list):
            return all(items(item) for item in value)
        if props and isinstance(value, dict):
            return all(props[key](item) for key, item in value.items() if key in props)
        return True

    return check


@dataclass(frozen=True)
class BodyValidator:
    """Per-key checks compiled from the schema: a dict lookup per field instead of a generic JSON Schema walk
    over hundreds of properties per document."""

    checks: Mapping[str, Check]

    @classmethod
    def from_schema(cls, schema: Mapping[str, Any]) -> BodyValidator:
        return cls({name: _compile(prop) for name, prop in schema["properties"].items()})

    def offending_keys(self, body: Mapping[str, Any]) -> list[str]:
        """Keys whose value has a type the schema does not allow (unknown keys and `metadata` are not checked)."""
        return [
            key
            for key, value in body.items()
            if key != "metadata" and key in self.checks and not self.checks[key](value)
        ]


def describe(body: Mapping[str, Any], keys: list[str]) -> str:
    """A short reason naming the offending keys and their types (never their values)."""
    return "MONIT type mismatch: " + ", ".join(f"{k} ({type(body[k]).__name__})" for k in keys)


def apply_policy(body: dict[str, Any], keys: list[str], policy: Policy) -> dict[str, Any] | None:
    """What to send for a body with offending keys: as is (warn), without them (drop), or nothing (dead-letter)."""
    if policy == "warn":
        return body
    if policy == "drop":
        return {k: v for k, v in body.items() if k not in keys}
    return None


def main() -> None:
    """Write schemas/monit.v1.schema.json from the registry (run after changing schemas/field_types.json)."""
    import schemas

    path = schemas.SCHEMA_DIR / SCHEMA_FILE
    path.write_text(json.dumps(monit_schema(schemas.load("field_types.json")), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
