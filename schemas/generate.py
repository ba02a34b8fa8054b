"""Writes document.v1.schema.json from field_types.json: `python -m schemas.generate`.

The document schema is derived data: edit the registry, regenerate, commit both (a test checks
that the committed file is what this produces).
"""

from __future__ import annotations

from typing import Any

import orjson

from schemas import DOCUMENT_SCHEMA, SCHEMA_DIR, load

_JSON_TYPES = {
    "string": "string",
    "int": "integer",
    "date": "integer",
    "float": "number",
    "bool": "boolean",
    "object": "object",
}
REQUIRED = ["GlobalJobId", "RecordTime", "QDate", "Status", "CpuEffOutlier", "metadata"]
METADATA = {
    "type": "object",
    "required": [
        "spider_git_hash",
        "spider_hostname",
        "spider_username",
        "spider_runtime",
        "spider_source",
        "converter_version",
    ],
    "properties": {
        "spider_git_hash": {"type": "string"},
        "spider_hostname": {"type": "string"},
        "spider_username": {"type": "string"},
        "spider_runtime": {"type": "integer", "description": "collection time of the raw ad, epoch milliseconds"},
        "spider_source": {"enum": ["condor_queue", "condor_history"]},
        "converter_version": {"type": "string"},
    },
}


def _property(spec: dict[str, Any]) -> dict[str, Any]:
    if spec["type"] == "nested":
        items = {
            "type": "object",
            "properties": {
                name: {"type": [_JSON_TYPES[sub["type"]], "null"]} for name, sub in spec["properties"].items()
            },
        }
        return {"type": ["array", "null"], "items": items}
    value = {"type": _JSON_TYPES[spec["type"]]}
    if spec.get("array"):
        return {"type": ["array", "null"], "items": value}
    return {"type": [value["type"], "null"]}


def document_schema(registry: dict[str, Any]) -> dict[str, Any]:
    properties = {name: _property(spec) for name, spec in registry["fields"].items()}
    for name in ("GlobalJobId", "RecordTime", "QDate", "Status"):
        properties[name]["type"] = properties[name]["type"][0]
    properties["CpuEffOutlier"] = {"enum": [0, 1]}
    properties["metadata"] = METADATA
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": DOCUMENT_SCHEMA,
        "title": "spider job document (converter output, sinks input)",
        "description": "Generated from field_types.json by schemas/generate.py. Dates are epoch seconds; "
        "fields not listed are ClassAd attributes copied verbatim.",
        "type": "object",
        "required": REQUIRED,
        "properties": properties,
        "additionalProperties": True,
    }


def render() -> bytes:
    return orjson.dumps(document_schema(load("field_types.json")), option=orjson.OPT_INDENT_2) + b"\n"


if __name__ == "__main__":
    (SCHEMA_DIR / "document.v1.schema.json").write_bytes(render())
