"""Composable index templates for the daily indices, generated from the field-type registry.

The registry (schemas/field_types.json) is the one list of document fields and their types; the mapping is
derived from it, so a field added to the converter gets its mapping here without a second list to maintain.
Installed once per start (idempotent PUT), never per document or per daily index. The output works on
Elasticsearch 8 and OpenSearch 2 alike (only mapping features both have).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import schemas

REGISTRY_FILE = "field_types.json"
TOTAL_FIELDS_LIMIT = 2000
KEYWORD_IGNORE_ABOVE = 4096
DYNAMIC_KEYWORD_IGNORE_ABOVE = 256

_SCALARS = {
    "int": {"type": "long"},
    "float": {"type": "double"},
    "date": {"type": "date", "format": "epoch_second"},
    "bool": {"type": "boolean"},
    "object": {"type": "object"},
    "nested": {"type": "nested"},
}


def field_mapping(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The mapping of one registry field. Strings: analyzed ones are text, others keyword; fields marked
    not indexed stay in _source only (no inverted index, no doc values), so huge values like Args fit."""
    kind = spec["type"]
    indexed = spec.get("index", True)
    if kind == "string":
        if spec.get("analyzed", False):
            return {"type": "text"} if indexed else {"type": "text", "index": False}
        if not indexed:
            return {"type": "keyword", "index": False, "doc_values": False}
        return {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}
    try:
        mapping = dict(_SCALARS[kind])
    except KeyError:
        raise ValueError(f"unknown field type {kind!r}") from None
    if not indexed and kind not in ("object", "nested"):
        mapping["index"] = False
    return mapping


def mappings(registry: Mapping[str, Any]) -> dict[str, Any]:
    """Index mappings: every registry field typed, `metadata` as an object, other strings as keywords."""
    properties = {name: field_mapping(spec) for name, spec in sorted(registry["fields"].items())}
    properties["metadata"] = {
        "type": "object",
        "properties": {"spider_runtime": {"type": "date", "format": "epoch_millis"}},
    }
    return {
        "date_detection": False,
        "dynamic_templates": [
            {
                "strings_as_keywords": {
                    "match_mapping_type": "string",
                    "mapping": {"type": "keyword", "ignore_above": DYNAMIC_KEYWORD_IGNORE_ABOVE},
                }
            }
        ],
        "properties": properties,
    }


def index_template(
    registry: Mapping[str, Any],
    prefix: str,
    *,
    priority: int = 200,
    shards: int | None = None,
    replicas: int | None = None,
) -> dict[str, Any]:
    """Body of `PUT _index_template/<prefix>` for the daily indices `<prefix>-YYYY-MM-DD`."""
    index: dict[str, Any] = {"mapping": {"total_fields": {"limit": TOTAL_FIELDS_LIMIT}}}
    if shards is not None:
        index["number_of_shards"] = shards
    if replicas is not None:
        index["number_of_replicas"] = replicas
    return {
        "index_patterns": [f"{prefix}-*"],
        "priority": priority,
        "template": {"settings": {"index": index}, "mappings": mappings(registry)},
        "_meta": {"managed_by": "spider", "registry_version": registry.get("version")},
    }


def load_registry() -> dict[str, Any]:
    return schemas.load(REGISTRY_FILE)
