"""Copy of the ad's attributes into the document, typed per the registry.

Rules (reference `bulk_convert_ad_data`): ignored attributes are left out; `HasBeen*` attributes only
when the registry types them bool; `DESIRED_SITES` becomes `DESIRED_Sites`; the `MATCH_EXP_JOB_` prefix
and the `_RAW` suffix are stripped from names (when both spellings are present the stripped source
wins, so the result does not depend on attribute order); undefined -> null; error -> left out;
int/float/bool/string/date casts per the registry, a failed cast leaves the attribute out with a
rate-limited warning (dates become null instead, as in the reference) and keeps the value, not cast, under
the attribute's name in the unindexed object; WMCore exception messages (base64 + zlib) are decoded to text.
Names no index can hold go to the unindexed object too, and every text copied is bounded and NUL-free
(sanitize.py).
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import zlib
from collections.abc import Callable
from itertools import compress, repeat
from typing import Any, NamedTuple

import orjson

from schemas import UNINDEXED_FIELD
from services.common.raw_message import is_expression
from services.converter import ratelimit
from services.converter.expressions import ERROR, JobAd
from services.converter.registry import IGNORED, TYPES
from services.converter.sanitize import clean_value, text_needs_cleaning, unindexable
from services.converter.values import INT64_MAX, INT64_MIN, integer, picker

_MATCH_PREFIX = "MATCH_EXP_JOB_"
_RAW_SUFFIX = "_RAW"
_WMCORE_MESSAGE = re.compile(r"^Chirp_WMCore_[A-Za-z0-9]+_Exception_Message$")
_DROP = object()
_SCALARS = frozenset((int, float, bool))  # value types whose registry casts give no text to clean
_CLEANED = frozenset((str, list, dict))  # value types that may hold text (sanitize.clean_value)
_EXPR_PREFIX, _EXPR_SUFFIX = "/Expr(", ")/"
_EXPR_PREFIXES = repeat(_EXPR_PREFIX)  # map(str.startswith, texts, this)


@functools.lru_cache(maxsize=8192)
def document_name(key: str) -> str | None:
    """Field name of a ClassAd attribute in the document, None when it is not copied."""
    if key in IGNORED:
        return None
    if key.startswith("HasBeen") and TYPES.get(key) != "bool":
        return None
    if key == "DESIRED_SITES":
        return "DESIRED_Sites"
    name = key[len(_MATCH_PREFIX) :] if key.startswith(_MATCH_PREFIX) else key
    return name[: -len(_RAW_SUFFIX)] if name.endswith(_RAW_SUFFIX) else name


class _Failed(NamedTuple):
    """A failed cast: the field gets `instead` (left out when _DROP), the value itself goes unindexed."""

    original: Any
    instead: Any


def _bad(kind: str, name: str, value: Any, instead: Any = _DROP, outcome: str = "left out") -> _Failed:
    ratelimit.warn(
        "cast", name, f"cannot convert {name}={value!r:.80} to {kind}; {outcome}, value kept in {UNINDEXED_FIELD}"
    )
    return _Failed(value, instead)


def _to_string(name: str, value: Any) -> Any:
    return value if isinstance(value, str) else str(value)


def _to_int(name: str, value: Any) -> Any:
    if isinstance(value, str):
        try:
            whole = int(value)
        except ValueError:
            if value == "Unknown":
                return None
            if name == "GLIDEIN_MaxMemMBs" and value == "GLIDEIN_MaxMemMBs":
                return _DROP  # unexpanded pilot macro, known upstream problem: not worth a warning
            return _bad("int", name, value)
    elif value.__class__ is float or isinstance(value, int | float):
        whole = value
    else:
        return _bad("int", name, value)
    if not INT64_MIN <= whole <= INT64_MAX:  # also false for NaN
        return _bad("a 64-bit int", name, value)
    return int(whole)


def _to_float(name: str, value: Any) -> Any:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return _bad("float", name, value)


def _to_date(name: str, value: Any) -> Any:
    if value.__class__ is int and value and INT64_MIN <= value <= INT64_MAX:  # most dates: returned as they are
        return value
    if value == 0 or (isinstance(value, str) and value.lower() == "unknown"):
        return None
    try:
        whole = int(value)
    except (TypeError, ValueError, OverflowError):
        whole = None
    if whole is None or not INT64_MIN <= whole <= INT64_MAX:
        return _bad("a date", name, value, None, "set to null")
    return whole


def _to_bool(name: str, value: Any) -> bool:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return bool(value)


def _to_nested(name: str, value: Any) -> Any:
    ok = isinstance(value, list) and all(isinstance(item, dict) for item in value)
    return value if ok else _bad("a list of objects", name, value)


def _to_object(name: str, value: Any) -> Any:
    return value if isinstance(value, dict) else _bad("an object", name, value)


Cast = Callable[[str, Any], Any]
# registry type -> (cast, the Python type whose values the cast returns unchanged: the common case skips the call)
_CASTS: dict[str, tuple[Cast, type | None]] = {
    "string": (_to_string, str),
    "int": (_to_int, int),
    "float": (_to_float, float),
    "date": (_to_date, None),  # 0 becomes null
    "bool": (_to_bool, bool),
    "nested": (_to_nested, None),
    "object": (_to_object, dict),
}


def decode_wmcore_message(name: str, value: Any) -> Any:
    """WMCore chirps exception messages base64-encoded zlib; undecodable values stay as they are."""
    if not isinstance(value, str):
        return value
    try:
        return zlib.decompress(base64.b64decode(value, validate=True)).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError, zlib.error):
        ratelimit.warn("decode", name, f"{name} is not base64+zlib; kept as it is")
        return value


class _Plan(NamedTuple):
    """How one attribute is copied, worked out once per attribute name."""

    name: str  # field name in the document
    is_renamed: bool  # name differs from the attribute's (prefix/suffix stripped or DESIRED_SITES)
    cast: Cast | None  # None: the value is copied as it is
    unchanged: type | None  # values of exactly this type need no cast
    unindexed: bool  # kept under the attribute's own name in the unindexed object, not cast


_PLANS: dict[str, _Plan | None] = {}  # a memo of _plan(), a pure function of the name
_SHAPES: dict[tuple[str, ...], _Shape] = {}  # memo of _shape()
_SHAPES_MAX = 2048  # distinct attribute lists; bounded so odd ads cannot grow it without limit
_PLANS_MAX = 65536  # attribute names are few in practice; the bound only guards against a flood of odd names


def _plan(key: str) -> _Plan | None:
    """The copy plan of an attribute (None: not copied), worked out on first sight of the name. Names the
    registry knows are always fields, except the unindexed object's own (the converter writes it)."""
    name = document_name(key)
    plan = None
    if name == UNINDEXED_FIELD or (name is not None and name not in TYPES and unindexable(name)):
        plan = _Plan(key, False, None, None, True)
    elif name is not None:
        cast, unchanged = _CASTS.get(TYPES.get(name), (None, None))
        if _WMCORE_MESSAGE.match(name):
            cast, unchanged = _wmcore(cast), None
        plan = _Plan(name, name != key, cast, unchanged, False)
    if len(_PLANS) >= _PLANS_MAX:
        _PLANS.clear()
    _PLANS[key] = plan
    return plan


def _wmcore(cast: Cast | None) -> Cast:
    """The registry cast (if any) followed by the base64+zlib decoding of WMCore exception messages."""

    def cast_and_decode(name: str, value: Any) -> Any:
        if cast is not None:
            value = cast(name, value)
            if value is _DROP or value.__class__ is _Failed:
                return value
        return decode_wmcore_message(name, value)

    return cast_and_decode


Step = tuple[str, str, Cast | None, type | None]  # (attribute, field, cast, no-cast type)


class _Attention(NamedTuple):
    """Which copied values of an ad need more than a copy, given the exact type of each value."""

    strings: tuple[int, ...]  # positions of text values (any may be an expression)
    pick_strings: Callable[[tuple[Any, ...]], tuple[Any, ...]]
    containers: tuple[int, ...]  # positions of lists and objects (texts inside them are cleaned too)
    pick_containers: Callable[[tuple[Any, ...]], tuple[Any, ...]]
    dates: tuple[int, ...]  # positions of int values of date fields: unchanged unless 0 or beyond 64 bits
    pick_dates: Callable[[tuple[Any, ...]], tuple[Any, ...]]
    casts: frozenset[int]  # other positions whose value the registry cast changes, one Python call each
    batches: tuple[_Batch, ...]  # non-text values cast by one C-level map per cast (int(), str(), float())


class _Batch(NamedTuple):
    """Values of one type pattern's positions that one builtin converts exactly as the registry cast does."""

    names: tuple[str, ...]
    positions: frozenset[int]
    pick: Callable[[tuple[Any, ...]], tuple[Any, ...]]
    convert: Callable[[tuple[Any, ...]], list[Any] | None]  # None: a value needs the cast's own handling


def _ints(values: tuple[Any, ...]) -> list[int] | None:
    try:
        whole = list(map(int, values))
    except (TypeError, ValueError, OverflowError):
        return None
    return whole if min(whole) >= INT64_MIN and max(whole) <= INT64_MAX else None


def _floats(values: tuple[Any, ...]) -> list[float] | None:
    try:
        return list(map(float, values))
    except (TypeError, ValueError, OverflowError):
        return None


def _strings(values: tuple[Any, ...]) -> list[str]:
    return list(map(str, values))


# casts that a builtin matches on non-text values (the text ones may be expressions, so they stay one by one)
_BATCHED: dict[Cast, Callable[[tuple[Any, ...]], list[Any] | None]] = {
    _to_int: _ints,
    _to_float: _floats,
    _to_string: _strings,
}


class _Shape:
    """The copy of ads with exactly these attribute names in this order, worked out once: the copy is then
    one C-level pass (all values read and paired with their field names at once) plus a Python step only for
    the few values that need it, found from the tuple of the values' types (memoised per shape, ads of a
    schedd repeat a handful of type patterns)."""

    __slots__ = ("attention", "blank", "closures", "names", "read", "read_unindexed", "shared", "steps", "unindexed")
    ATTENTION_MAX = 16  # type patterns kept per shape

    def __init__(self, steps: tuple[Step, ...], unindexed: tuple[str, ...]) -> None:
        self.steps = steps
        self.names = tuple(name for _, name, _, _ in steps)
        self.blank = dict.fromkeys(self.names)  # the document's fields in order, values to be filled in
        self.read = picker(tuple(key for key, _, _, _ in steps))
        self.unindexed = unindexed  # attributes kept under their own name in the unindexed object
        self.read_unindexed = picker(unindexed)
        # Fields written by more than one attribute (X and X_RAW): their final place in the document depends
        # on which writes succeed, so an ad needing more than a copy of one of them takes the in-order loop.
        counts: dict[str, int] = {}
        for name in self.names:
            counts[name] = counts.get(name, 0) + 1
        self.shared = frozenset(i for i, name in enumerate(self.names) if counts[name] > 1)
        self.attention: dict[tuple[type, ...], _Attention] = {}
        self.closures: dict[tuple[str, ...], Any] = {}  # JobAd.evaluate_together's memo for ads of this shape

    def needing_attention(self, types: tuple[type, ...]) -> _Attention:
        found = self.attention.get(types)
        if found is None:
            strings = tuple(i for i, kind in enumerate(types) if kind is str)
            containers = tuple(i for i, kind in enumerate(types) if kind is list or kind is dict)
            dates = tuple(i for i, kind in enumerate(types) if kind is int and self.steps[i][2] is _to_date)
            casts = [
                i
                for i, (kind, (_, _, cast, unchanged)) in enumerate(zip(types, self.steps, strict=True))
                if cast is not None and kind is not unchanged and kind is not type(None) and i not in dates
            ]
            batched: dict[Cast, list[int]] = {}
            for i in casts:  # twins (shared) stay single: a cast of one sends the ad to the in-order loop
                if types[i] in _SCALARS and self.steps[i][2] in _BATCHED and i not in self.shared:
                    batched.setdefault(self.steps[i][2], []).append(i)
            batches = tuple(
                _Batch(tuple(self.names[i] for i in at), frozenset(at), picker(tuple(at)), _BATCHED[cast])
                for cast, at in batched.items()
            )
            single = frozenset(casts).difference(*(batch.positions for batch in batches))
            if len(self.attention) >= self.ATTENTION_MAX:
                self.attention.clear()
            found = _Attention(
                strings, picker(strings), containers, picker(containers), dates, picker(dates), single, batches
            )
            self.attention[types] = found
        return found


def _shape(keys: tuple[str, ...]) -> _Shape:
    """The copy of an ad with exactly these names in this order (see _Shape); ads of one schedd share a
    handful of such shapes, so the renaming is decided once per shape."""
    steps = []
    unindexed = []
    renamed: set[str] = set()
    for key in keys:
        plan = _PLANS[key] if key in _PLANS else _plan(key)
        if plan is None:
            continue
        if plan.unindexed:
            unindexed.append(key)
            continue
        if plan.is_renamed:
            renamed.add(plan.name)
        elif plan.name in renamed:  # the stripped source came first and wins
            continue
        steps.append((key, plan.name, plan.cast, plan.unchanged))
    if len(_SHAPES) >= _SHAPES_MAX:
        _SHAPES.clear()
    _SHAPES[keys] = found = _Shape(tuple(steps), tuple(unindexed))
    return found


def _copied(ad: JobAd, step: Step, value: Any, limit: int) -> Any:
    """The document value of one attribute: _DROP when it is left out (an error), _Failed when its cast fails."""
    key, name, cast, unchanged = step
    if value.__class__ is str and value.startswith(_EXPR_PREFIX) and value.endswith(_EXPR_SUFFIX):
        value = ad.evaluate(key)
        if value is ERROR:
            return _DROP
        if value.__class__ in _CLEANED:
            value = clean_value(key, value, limit)
    if value is None or value.__class__ is unchanged or cast is None:
        return value
    value = cast(name, value)
    return clean_value(key, value, limit) if value.__class__ in _CLEANED else value


def _write(result: dict[str, Any], unindexed: dict[str, Any], key: str, name: str, value: Any) -> None:
    """Set the field, or leave it out (_DROP); a failed cast also keeps the value in `unindexed`."""
    if value.__class__ is _Failed:
        unindexed[key] = value.original
        value = value.instead
    if value is _DROP:
        result.pop(name, None)
    else:
        result[name] = value


def _cleaned(ad: JobAd, shape: _Shape, attention: _Attention, values: tuple[Any, ...], limit: int) -> tuple[Any, ...]:
    """The values with their texts cleaned (sanitize.clean_value; expressions are cleaned once evaluated); the
    ad's own view is changed too, so that the rules reading these attributes see the same values."""
    cleaned = list(values)
    changed: dict[str, Any] = {}
    for i in attention.strings + attention.containers:
        value = values[i]
        if not is_expression(value):
            key = shape.steps[i][0]
            cleaned[i] = changed[key] = clean_value(key, value, limit)
    ad.raw = {**ad.raw, **changed}
    return tuple(cleaned)


def copy_attributes(ad: JobAd, text_limit: int, also_evaluate: tuple[str, ...] = ()) -> dict[str, Any]:
    """The typed copy, texts cut to `text_limit` UTF-8 bytes, then the unindexed object if any; `also_evaluate`
    names attributes the later rules read, so that their expressions are evaluated in the same ClassAd as the
    copied ones (see JobAd.evaluate_together)."""
    raw = ad.raw
    keys = tuple(raw)
    shape = _SHAPES.get(keys) or _shape(keys)
    ad.copied = shape.names
    unindexed: dict[str, Any] = {}
    if shape.unindexed:
        odd = zip(shape.unindexed, shape.read_unindexed(raw), strict=True)
        unindexed = {key: clean_value(key, value, text_limit) for key, value in odd}
    result = _copy(ad, shape, unindexed, text_limit, also_evaluate)
    if unindexed:
        result[UNINDEXED_FIELD] = unindexed
    return result


def _copy(
    ad: JobAd, shape: _Shape, unindexed: dict[str, Any], text_limit: int, also_evaluate: tuple[str, ...]
) -> dict[str, Any]:
    """The fields of the copy; the values of failed casts are added to `unindexed`."""
    raw = ad.raw
    values = shape.read(raw)
    attention = shape.needing_attention(tuple(map(type, values)))
    texts = attention.pick_strings(values)
    if _any_text_needs_cleaning(texts, text_limit) or _containers_need_cleaning(attention, values, text_limit):
        values = _cleaned(ad, shape, attention, values, text_limit)
    result = shape.blank.copy()  # the table copied whole: no insertion and no resizing per attribute
    result.update(zip(shape.names, values, strict=True))
    expressions = set(compress(attention.strings, map(str.startswith, texts, _EXPR_PREFIXES)))
    wanted = tuple(name for name in also_evaluate if is_expression(raw.get(name)))
    if expressions or wanted:
        copied = tuple(shape.steps[i][0] for i in sorted(expressions) if is_expression(values[i]))
        ad.evaluate_together(copied + wanted, shape.closures)
    casts = attention.casts
    dates = attention.pick_dates(values)
    if dates and (0 in dates or min(dates) < INT64_MIN or max(dates) > INT64_MAX):
        odd = zip(attention.dates, dates, strict=True)
        casts = casts | {i for i, date in odd if not date or not INT64_MIN <= date <= INT64_MAX}
    batches = attention.batches
    if not expressions and not casts and not batches:
        return result
    if not shape.shared.isdisjoint(expressions) or not shape.shared.isdisjoint(casts):
        return _copy_in_order(ad, shape.steps, values, unindexed, text_limit)
    for batch in batches:
        converted = batch.convert(batch.pick(values))
        if converted is None:
            casts = casts | batch.positions
        else:
            result.update(zip(batch.names, converted, strict=True))
    steps = shape.steps
    for i in sorted(expressions | casts):
        key, name, _, _ = step = steps[i]
        _write(result, unindexed, key, name, _copied(ad, step, values[i], text_limit))
    return result


def _any_text_needs_cleaning(texts: tuple[str, ...], limit: int) -> bool:
    """Whether a text holds NUL or is too long: one C-level test over the ad's texts joined, then one by one."""
    joined = "".join(texts)
    if "\x00" not in joined and len(joined) * 4 <= limit:
        return False
    return any(text_needs_cleaning(text, limit) for text in texts)


def _containers_need_cleaning(attention: _Attention, values: tuple[Any, ...], limit: int) -> bool:
    """Whether a list or object may hold NUL or too long a text: one C-level serialisation of them all."""
    if not attention.containers:
        return False
    try:
        serialised = orjson.dumps(attention.pick_containers(values))
    except TypeError:  # keys that are not text: only clean_value can tell
        return True
    return b"\\u0000" in serialised or len(serialised) > limit


def _copy_in_order(
    ad: JobAd, steps: tuple[Step, ...], values: tuple[Any, ...], unindexed: dict[str, Any], limit: int
) -> dict[str, Any]:
    """The copy one attribute after the other: a later attribute writing the same field replaces the value,
    or removes the field when its own value is left out."""
    result: dict[str, Any] = {}
    for step, value in zip(steps, values, strict=True):
        _write(result, unindexed, step[0], step[1], _copied(ad, step, value, limit))
    return result


def request_memory_eval(ad: JobAd) -> dict[str, Any]:
    """RequestMemory evaluated against the ad (the raw attribute itself is ignored)."""
    if "RequestMemory" not in ad:
        return {}
    value = ad.get("RequestMemory")
    return {"RequestMemory_Eval": integer(value)}
