"""Small readers shared by the rule modules: numbers and strings out of JSON ad values.

ClassAd values reach the rules as JSON values (bool is a subclass of int in Python, so it is excluded
explicitly where a count or a time is expected).
"""

from __future__ import annotations

from typing import Any


def number(value: Any, default: float | None = None) -> float | None:
    """An int or float value, or `default` for anything else (null, text, lists...)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return default


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def present(ad: dict[str, Any], name: str) -> bool:
    """An attribute counts as present when it is defined (undefined arrives as null)."""
    return ad.get(name) is not None
