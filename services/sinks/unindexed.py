"""Which fields of a refused document to move under `spider_unindexed`: pure functions of the cluster's error,
the document and the index mapping (the search sinks' fallback, services/sinks/bulk.py; docs/indexing.md).

The index template maps unregistered scalars so that any later scalar fits (numbers with ignore_malformed,
other values as keywords), so what is left to refuse a document is its shape (an object where the index has a
value, or the reverse), a name the cluster does not take, or the index's field limit. Moving the offending
top-level fields under the unindexed object, which the index does not parse, keeps every value in _source.
Registered fields are never moved: the converter casts them, so a refusal on one is a real error for the
dead-letter topic.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from schemas import UNINDEXED_FIELD

CONFLICT = "conflict"
FIELD_LIMIT = "field_limit"

# Error types a document's content (not the request or the cluster) causes; illegal_argument_exception is a
# mapping error only with one of these phrases (OpenSearch reports a mapping race and the field limit with it).
_MAPPING_ERROR_TYPES = frozenset(
    ("mapper_parsing_exception", "document_parsing_exception", "strict_dynamic_mapping_exception")
)
_MAPPING_PHRASES = ("mapper [", "mapping [", "mapping for [", "field name", "limit of total fields")
_FIELD_LIMIT = "limit of total fields"
_BRACKETED = re.compile(r"\[([^\[\]]*)\]")
_PREVIEW = "preview of field's value"


def _chain(error: Any) -> list[Mapping[str, Any]]:
    """The error and its caused_by chain."""
    chain = []
    while isinstance(error, Mapping) and len(chain) < 8:
        chain.append(error)
        error = error.get("caused_by")
    return chain


def mapping_error(error: Any) -> str | None:
    """The class of a per-item error the fallback can help with (CONFLICT, FIELD_LIMIT), None for others."""
    chain = _chain(error)
    reasons = " ".join(str(e.get("reason", "")) for e in chain).lower()
    if _FIELD_LIMIT in reasons:
        return FIELD_LIMIT
    types = {e.get("type") for e in chain}
    if types & _MAPPING_ERROR_TYPES:
        return CONFLICT
    if "illegal_argument_exception" in types and any(phrase in reasons for phrase in _MAPPING_PHRASES):
        return CONFLICT
    return None


def named_fields(error: Any) -> list[str]:
    """The field names an error's reasons put in brackets ("failed to parse field [a.b]", "mapper [a] cannot
    be changed..."), without the value preview that may follow them."""
    names = []
    for entry in _chain(error):
        reason = str(entry.get("reason", ""))
        cut = reason.lower().find(_PREVIEW)
        names += _BRACKETED.findall(reason if cut < 0 else reason[:cut])
    return names


def _top_level(name: str, candidates: Iterable[str]) -> list[str]:
    """The document's top-level fields a (dotted) mapping path belongs to."""
    return [key for key in candidates if name == key or name.startswith(key + ".")]


def _is_object_mapping(mapping: Mapping[str, Any]) -> bool:
    return "properties" in mapping or mapping.get("type") in (None, "object", "nested")


def conflicts(value: Any, mapping: Mapping[str, Any] | None) -> bool:
    """Whether `value` has another shape than the field mapped as `mapping`: an object (or list of them) where
    the index has a value, or the reverse. None: not mapped yet, no conflict. Value types are not compared:
    unregistered keywords take any scalar, unregistered numbers ignore what they cannot parse, and other leaf
    types coerce; the cluster's error names the rest."""
    if mapping is None or value is None:
        return False
    if isinstance(value, list):
        return any(conflicts(item, mapping) for item in value)
    if _is_object_mapping(mapping):
        if mapping.get("enabled") is False:
            return False
        if not isinstance(value, dict):
            return True
        properties = mapping.get("properties", {})
        return any(conflicts(item, properties.get(key)) for key, item in value.items())
    return isinstance(value, dict)


def adds_fields(value: Any, mapping: Mapping[str, Any] | None) -> bool:
    """Whether indexing `value` would add a field to the mapping (what the field limit counts)."""
    if value is None or value == []:
        return False
    if mapping is None:
        return True
    if isinstance(value, list):
        return any(adds_fields(item, mapping) for item in value)
    if isinstance(value, dict) and _is_object_mapping(mapping) and mapping.get("enabled") is not False:
        properties = mapping.get("properties", {})
        return any(adds_fields(item, properties.get(key)) for key, item in value.items())
    return False


def movable(body: Mapping[str, Any], fixed: Collection[str]) -> list[str]:
    """Top-level fields the fallback may move: not registered (`fixed`), not already under the unindexed
    object (a name there is never overwritten)."""
    kept = body.get(UNINDEXED_FIELD, {})
    if not isinstance(kept, Mapping):
        return []  # not an object: nothing can be merged into it without losing it
    return [key for key in body if key not in fixed and key != UNINDEXED_FIELD and key not in kept]


def fields_to_move(
    body: Mapping[str, Any],
    error: Any,
    mapped: Mapping[str, Any],
    fixed: Collection[str],
    *,
    last_resort: bool = False,
) -> list[str]:
    """The top-level fields to move so that the index takes the document, in document order.

    - the field limit: every movable field that adds a field to the index mapping (`mapped`: its properties);
    - a conflict: the fields the error names and every movable field whose value conflicts with `mapped`;
    - an error naming only registered fields: nothing (a real error);
    - otherwise, or on the `last_resort` attempt: every movable field.
    """
    candidates = movable(body, fixed)
    if last_resort:
        return candidates
    kind = mapping_error(error)
    if kind == FIELD_LIMIT:
        chosen = {key for key in candidates if adds_fields(body[key], mapped.get(key))}
    else:
        named = named_fields(error)
        chosen = {key for name in named for key in _top_level(name, candidates)}
        if not chosen and named and any(_top_level(name, fixed) for name in named):
            return []
        chosen |= {key for key in candidates if conflicts(body[key], mapped.get(key))}
    return [key for key in candidates if key in chosen] if chosen else candidates


def move(body: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The document with `names` moved (merged) under the unindexed object."""
    names = set(names)
    moved = {key: value for key, value in body.items() if key in names}
    out = {key: value for key, value in body.items() if key not in names}
    out[UNINDEXED_FIELD] = {**out.get(UNINDEXED_FIELD, {}), **moved}
    return out
