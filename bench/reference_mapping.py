"""The reference system's index mapping (dmwm/cms-htcondor-es), to measure spider's index cost against it.

Described from the reference's es.py and convert_to_json.py, applied to the field registry, whose
`reference_sets` record the reference's attribute lists each field was in:

- the reference types a field from its lists in this order, a later list overriding an earlier one: `int`
  -> long; a `string` also in `no_idx` -> text, not indexed; a `string` also in `no_analysis` -> keyword (any
  other string gets no explicit mapping); `date` -> date in epoch seconds; `bool` -> boolean;
- every other field (other strings, the derived floats, `ChirpCMSSW_SiteIO`) is left to dynamic mapping:
  strings become keywords (ignore_above 256, no norms) through one dynamic template, numbers long or float,
  objects plain objects; date detection stays at the engines' default (on);
- `metadata.spider_runtime` is a date in epoch milliseconds; at most 2,000 fields per index.

The reference also defines a lowercase keyword analyzer that no field uses; it is left out (it costs nothing
at index time).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TOTAL_FIELDS_LIMIT = 2000


def field_mapping(lists: set[str]) -> dict[str, Any] | None:
    """The reference's mapping of a field in the given reference lists; None: left to dynamic mapping."""
    mapping = None
    if "int" in lists:
        mapping = {"type": "long"}
    if "string" in lists and "no_idx" in lists:
        mapping = {"type": "text", "index": False}
    elif "string" in lists and "no_analysis" in lists:
        mapping = {"type": "keyword"}
    if "date" in lists:
        mapping = {"type": "date", "format": "epoch_second"}
    if "bool" in lists:
        mapping = {"type": "boolean"}
    return mapping


def mappings(registry: Mapping[str, Any]) -> dict[str, Any]:
    properties = {}
    for name, spec in sorted(registry["fields"].items()):
        mapping = field_mapping(set(spec.get("reference_sets", ())))
        if mapping is not None:
            properties[name] = mapping
    properties["metadata"] = {"properties": {"spider_runtime": {"type": "date", "format": "epoch_millis"}}}
    strings = {"type": "keyword", "norms": False, "ignore_above": 256}
    return {
        "dynamic_templates": [{"strings_as_keywords": {"match_mapping_type": "string", "mapping": strings}}],
        "properties": properties,
    }


def index_template(registry: Mapping[str, Any], prefix: str, *, replicas: int | None = None) -> dict[str, Any]:
    """Body of `PUT _index_template/<prefix>` giving `<prefix>-*` the reference's mapping (shards: the default)."""
    index: dict[str, Any] = {"mapping": {"total_fields": {"limit": TOTAL_FIELDS_LIMIT}}}
    if replicas is not None:
        index["number_of_replicas"] = replicas
    return {
        "index_patterns": [f"{prefix}-*"],
        "priority": 200,
        "template": {"settings": {"index": index}, "mappings": mappings(registry)},
    }
