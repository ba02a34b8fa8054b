"""Small readers shared by the rule modules: numbers and strings out of JSON ad values.

ClassAd values reach the rules as JSON values (bool is a subclass of int in Python, so it is excluded
explicitly where a count or a time is expected).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

_NUMBER_TYPES = frozenset((int, float))


def number(value: Any, default: float | None = None) -> float | None:
    """An int or float value, or `default` for anything else (null, text, lists...)."""
    if type(value) in _NUMBER_TYPES:  # the common case first: called ~60 times per ad
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return default


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def integer(value: Any) -> int | None:
    """The int of a number that fits a 64-bit integer (what orjson and the search engines accept), else None."""
    found = number(value)
    if found is None or not INT64_MIN <= found <= INT64_MAX:  # also false for NaN
        return None
    return int(found)


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def present(ad: dict[str, Any], name: str) -> bool:
    """An attribute counts as present when it is defined (undefined arrives as null)."""
    return ad.get(name) is not None


def picker(items: tuple[Any, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """operator.itemgetter of these keys or positions that always gives a tuple (itemgetter gives a bare
    value for one item); the evaluation memos read many values of each ad at C speed with it."""
    if len(items) > 1:
        return operator.itemgetter(*items)
    if items:
        only = items[0]
        return lambda container: (container[only],)
    return lambda container: ()
