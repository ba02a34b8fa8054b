"""The field-type registry (schemas/field_types.json) turned into fast lookups, once at import."""

from __future__ import annotations

from typing import Any

import schemas

REGISTRY: dict[str, Any] = schemas.load("field_types.json")

FIELDS: dict[str, dict[str, Any]] = REGISTRY["fields"]
TYPES: dict[str, str] = {name: spec["type"] for name, spec in FIELDS.items()}
IGNORED: frozenset[str] = frozenset(REGISTRY["ignored"])
RUNNING_FIELDS: frozenset[str] = frozenset(REGISTRY["running_fields"])
