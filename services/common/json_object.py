"""The one JSON check both message formats make: the bytes hold a JSON object."""

from __future__ import annotations

from typing import Any

import orjson


def loads_object(value: bytes, error: type[ValueError]) -> dict[str, Any]:
    """The object in `value`; raises `error` saying whether it is not JSON or JSON of another kind."""
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise error(f"not JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise error("not a JSON object")
    return parsed
