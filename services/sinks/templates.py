"""Composable index templates for the daily indices, generated from the field-type registry.

The registry (schemas/field_types.json) is the one list of document fields and their types; the mapping is
derived from it, so a field added to the converter gets its mapping here without a second list to maintain.
Installed once per start (idempotent PUT), never per document or per daily index. The output works on
Elasticsearch 8 and OpenSearch 2 alike (only mapping features both have). Why the mapping is shaped this way
(unregistered values that cannot conflict, plain objects, the unindexed field): docs/indexing.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import schemas

REGISTRY_FILE = "field_types.json"
TOTAL_FIELDS_LIMIT = 2000
KEYWORD_IGNORE_ABOVE = 4096
DYNAMIC_KEYWORD_IGNORE_ABOVE = 256
_DYNAMIC_KEYWORD = {"type": "keyword", "ignore_above": DYNAMIC_KEYWORD_IGNORE_ABOVE}
# What an unregistered field becomes, by the JSON type dynamic mapping sees in its first value (date and numeric
# detection off). Numbers are indexed as numbers (points and numeric doc values cost the servers less than a
# keyword's terms), with ignore_malformed: a later text or bool in the same field is kept in _source without
# being indexed, not refused. Texts and bools are keywords, which take later numbers and bools as their text
# (a boolean field would refuse a later number or text). So no scalar can conflict with a field's first type.
# Objects are left out: they stay objects and their leaves are matched in turn; an object meeting a number or a
# keyword is refused on both engines, whatever ignore_malformed says, and left to the sinks' fallback. A single
# "*" template would also catch objects, and ES 8's list form of match_mapping_type is not in OpenSearch.
DYNAMIC_SCALARS: dict[str, dict[str, Any]] = {
    "string": _DYNAMIC_KEYWORD,
    "boolean": _DYNAMIC_KEYWORD,
    "long": {"type": "long", "ignore_malformed": True},
    "double": {"type": "double", "ignore_malformed": True},
}

_TYPES = {
    "int": {"type": "long"},
    "float": {"type": "double"},
    "date": {"type": "date", "format": "epoch_second"},
    "bool": {"type": "boolean"},
}
# Registry types whose document value is one JSON object ("object") or a list of them ("nested"); both map to
# a plain object: a nested mapping would index each list entry as a hidden Lucene document of its own.
_OBJECT_TYPES = ("object", "nested")


def field_mapping(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The mapping of one registry field. Strings: analyzed ones are text, others keyword; fields marked
    not indexed stay in _source only (no inverted index, no doc values), so huge values like Args fit.
    Objects carry the mappings of their registered properties; an object not indexed is not parsed at all."""
    kind = spec["type"]
    indexed = spec.get("index", True)
    if kind == "string":
        if spec.get("analyzed", False):
            return {"type": "text"} if indexed else {"type": "text", "index": False}
        if not indexed:
            return {"type": "keyword", "index": False, "doc_values": False}
        return {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}
    if kind in _OBJECT_TYPES:
        if not indexed:
            return {"type": "object", "enabled": False}
        mapping: dict[str, Any] = {"type": "object"}
        if spec.get("properties"):
            mapping["properties"] = {name: field_mapping(sub) for name, sub in sorted(spec["properties"].items())}
        return mapping
    try:
        mapping = dict(_TYPES[kind])
    except KeyError:
        raise ValueError(f"unknown field type {kind!r}") from None
    if not indexed:
        mapping["index"] = False
    return mapping


def mappings(registry: Mapping[str, Any]) -> dict[str, Any]:
    """Index mappings: every registry field typed, `metadata` as an object, every other value by the type of
    its first JSON value (DYNAMIC_SCALARS)."""
    properties = {name: field_mapping(spec) for name, spec in sorted(registry["fields"].items())}
    properties["metadata"] = {
        "type": "object",
        "properties": {"spider_runtime": {"type": "date", "format": "epoch_millis"}},
    }
    return {
        "date_detection": False,
        "numeric_detection": False,
        "dynamic_templates": [
            {f"unregistered_{kind}": {"match_mapping_type": kind, "mapping": dict(mapping)}}
            for kind, mapping in DYNAMIC_SCALARS.items()
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
