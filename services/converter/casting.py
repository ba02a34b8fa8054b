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
import operator
import re
import zlib
from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate, chain, compress, repeat
from typing import Any, NamedTuple

import orjson

from schemas import UNINDEXED_FIELD
from services.common.raw_message import is_expression
from services.converter import ratelimit
from services.converter.expressions import ERROR, JobAd, forget_names, note_name
from services.converter.registry import IGNORED, TYPES
from services.converter.sanitize import clean_value, text_needs_cleaning, unindexable
from services.converter.values import INT64_MAX, INT64_MIN, integer, picker

_MATCH_PREFIX = "MATCH_EXP_JOB_"
_RAW_SUFFIX = "_RAW"
_WMCORE_MESSAGE = re.compile(r"^Chirp_WMCore_[A-Za-z0-9]+_Exception_Message$")
_DROP = object()
_CLEANED = frozenset((str, list, dict))  # value types that may hold text (sanitize.clean_value)
_EXPR_PREFIX, _EXPR_SUFFIX = "/Expr(", ")/"


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

    key: str  # the attribute
    name: str  # field name in the document ("": not copied, or kept in the unindexed object)
    cast: Cast | None  # None: the value is copied as it is
    unchanged: type | None  # values of exactly this type need no cast
    loud: frozenset[type]  # value types that need a look (the cast changes them, lists and objects, dates' ints)
    is_renamed: bool  # name differs from the attribute's (prefix/suffix stripped or DESIRED_SITES)
    is_statistic: bool  # a ChirpCMSSW* field, which chirp.fold_statistics reads
    is_date: bool


class _Plans(dict):
    """Attribute name -> _Plan: a memo of _plan(), a pure function of the name, filled on the first sight of each
    name and read for a whole ad at once with one itemgetter of its names. Nothing is kept per attribute list: a
    schedd's ads seldom repeat theirs (the sites a job read and the steps it ran are in its attribute names)."""

    def __missing__(self, key: str) -> _Plan:
        self[key] = plan = _plan(key)
        return plan


_PLANS = _Plans()
_UNINDEXED: dict[str, None] = {}  # the names seen whose attributes go to the unindexed object
_PLANS_MAX = 65536  # attribute names are few in practice; the bound only guards against a flood of odd names
_SKIP = _Plan("", "", None, None, frozenset(), False, False, False)  # not copied (the value is not looked at)
_CONTAINERS = frozenset((list, dict))  # the texts inside may need cleaning
# map(operator.getitem, plans, this): a field of each _Plan at C speed (in Python 3.11, map() calls an itemgetter
# with an argument tuple each time, operator.getitem without)
_NAME, _LOUD, _IS_RENAMED, _IS_STATISTIC = repeat(1), repeat(4), repeat(5), repeat(6)
_STR = repeat(str)  # map(operator.is_, types, this)


def _plan(key: str) -> _Plan:
    """The copy plan of an attribute, worked out on first sight of the name. Names the registry knows are always
    fields, except the unindexed object's own (the converter writes it)."""
    note_name(key)
    name = document_name(key)
    if name == UNINDEXED_FIELD or (name is not None and name not in TYPES and unindexable(name)):
        _UNINDEXED[key] = None
        return _SKIP
    if name is None:
        return _SKIP
    cast, unchanged = _CASTS.get(TYPES.get(name), (None, None))
    if _WMCORE_MESSAGE.match(name):
        cast, unchanged = _wmcore(cast), None
    date = cast is _to_date
    changed = () if cast is None else (kind for kind in _JSON_TYPES if kind is not unchanged)
    loud = _CONTAINERS.union(changed, (int,) if date else ())
    return _Plan(key, name, cast, unchanged, loud, name != key, name.startswith("ChirpCMSSW"), date)


_JSON_TYPES = (str, int, float, bool, list, dict)  # besides null, which no cast changes


def _forget() -> None:
    for table in (_PLANS, _UNINDEXED, _LAYOUTS, _SEEN):
        table.clear()
    forget_names()


@functools.cache  # one per registry cast
def _wmcore(cast: Cast | None) -> Cast:
    """The registry cast (if any) followed by the base64+zlib decoding of WMCore exception messages."""

    def cast_and_decode(name: str, value: Any) -> Any:
        if cast is not None:
            value = cast(name, value)
            if value is _DROP or value.__class__ is _Failed:
                return value
        return decode_wmcore_message(name, value)

    return cast_and_decode


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


class _Layout:
    """What the copy needs from an ad's attribute names in their order, worked out from the per-name plans with
    C-level passes: plans, field names ("": not copied), the twins, the ChirpCMSSW* fields. A function of the names
    only; kept (_layout) for lists seen before, with the positions needing attention per pattern of value types."""

    __slots__ = ("names", "patterns", "plans", "renamed", "renamed_at", "statistics", "twins")
    PATTERNS_MAX = 8  # value type patterns kept per list

    def __init__(self, keys: tuple[str, ...], raw: dict[str, Any]) -> None:
        self.plans: tuple[_Plan, ...] = picker(keys)(_PLANS)
        self.names: tuple[str, ...] = tuple(map(operator.getitem, self.plans, _NAME))
        self.renamed_at = tuple(map(operator.getitem, self.plans, _IS_RENAMED))
        self.renamed = tuple(compress(self.names, self.renamed_at))
        twins = {name for name in compress(self.renamed, map(raw.__contains__, self.renamed)) if _PLANS[name].name}
        if len(set(self.renamed)) < len(self.renamed):
            twins.update(name for name in self.renamed if self.renamed.count(name) > 1)
        self.twins = frozenset(twins)
        self.statistics = list(compress(self.names, map(operator.getitem, self.plans, _IS_STATISTIC)))
        self.patterns: dict[tuple[type, ...], _Positions] = {}

    def positions(self, types: tuple[type, ...]) -> _Positions:
        found = self.patterns.get(types)
        if found is None:
            if len(self.patterns) >= self.PATTERNS_MAX:
                self.patterns.clear()
            found = self.patterns[types] = _Positions(self.plans, self.names, types, _NONE)
        return found


_LAYOUTS: dict[tuple[str, ...], _Layout] = {}  # attribute lists seen twice or more (a schedd's queue polls)
_LAYOUTS_MAX = 1024
_SEEN: dict[int, None] = {}  # hashes of the attribute lists seen once
_SEEN_MAX = 65536


def _layout(raw: dict[str, Any]) -> _Layout:
    """The layout of this ad's attribute list: kept from an earlier ad of the same list, else worked out (and kept
    when the list was seen before: most lists of a schedd's history are seen only once, and keeping each would
    only cost memory)."""
    keys = tuple(raw)
    found = _LAYOUTS.get(keys)
    if found is not None:
        return found
    found = _Layout(keys, raw)
    seen = hash(keys)
    if seen in _SEEN:
        if len(_LAYOUTS) >= _LAYOUTS_MAX:
            _LAYOUTS.clear()
        _LAYOUTS[keys] = found
    else:
        if len(_SEEN) >= _SEEN_MAX:
            _SEEN.clear()
        _SEEN[seen] = None
    return found


class _Positions:
    """The positions of the values needing more than a copy, given the plans and the type of each value: texts
    (any may be an expression or need cleaning), lists and objects (texts inside), ints of date fields (0 or
    beyond 64 bits), values cast one by one, and values cast by one builtin per cast (_BATCHED)."""

    __slots__ = ("batched", "casts", "containers", "dates", "pick_dates", "pick_texts", "strings")

    def __init__(
        self, plans: tuple[_Plan, ...], names: tuple[str, ...] | list[str], types: tuple[type, ...], shared: frozenset
    ) -> None:
        positions = range(len(types))
        is_text = list(map(operator.is_, types, _STR))
        strings = list(compress(positions, is_text))
        copied = list(compress(names, is_text))
        if "" in copied:  # texts of attributes not copied are not looked at
            strings = list(compress(strings, copied))
        self.strings = strings
        self.pick_texts = picker(tuple(strings))
        self.containers: list[int] = []
        self.dates: list[int] = []
        self.casts: list[int] = []
        self.batched: dict[Cast, list[int]] = {}  # (twins: one by one)
        for i in compress(positions, map(operator.contains, map(operator.getitem, plans, _LOUD), types)):
            kind, plan = types[i], plans[i]
            if kind is list or kind is dict:
                self.containers.append(i)
                if plan.cast is not None and kind is not plan.unchanged:
                    self.casts.append(i)
            elif kind is int and plan.is_date:
                self.dates.append(i)
            elif kind is not str and plan.cast in _BATCHED and i not in shared:
                self.batched.setdefault(plan.cast, []).append(i)
            else:
                self.casts.append(i)
        self.pick_dates = picker(tuple(self.dates))


class _Copy:
    """One ad's attributes as the copy sees them, position by position in the ad's order (see _Layout).

    Twin attributes (`X` and `X_RAW` or `MATCH_EXP_JOB_X`) write one field, whose place is the first writer's and
    whose value the stripped source's (a plain `X` after a stripped one is left out). Usually all are plain copies:
    then every one is written and the field is given the last stripped one's value (`twins`, `last`). When one
    needs more than a copy, `drop_plain_twins` leaves the plain ones out and sets `shared`."""

    __slots__ = ("keys", "last", "names", "plans", "positions", "shared", "twins", "types", "values")

    def __init__(self, raw: dict[str, Any], layout: _Layout) -> None:
        self.keys: tuple[str, ...] = tuple(raw)
        self.values: tuple[Any, ...] = tuple(raw.values())
        self.plans, self.names, self.twins = layout.plans, layout.names, layout.twins
        self.types: tuple[type, ...] = tuple(map(type, self.values))
        self.positions = layout.positions(self.types)
        self.shared = _NONE  # positions of fields written more than once (after drop_plain_twins)
        self.last: dict[str, Any] = {}
        if self.twins:
            self.last = dict(zip(layout.renamed, compress(self.values, layout.renamed_at), strict=False))

    def drop_plain_twins(self) -> None:
        """Leave out the plain twins that come after a stripped one; set `shared`."""
        names, plans = list(self.names), list(self.plans)
        for name in self.twins:
            at = _positions(names, name)
            first = next(i for i in at if self.keys[i] != name)
            for i in at:
                if i > first and self.keys[i] == name:
                    names[i], plans[i] = "", _SKIP
        self.names, self.plans = names, tuple(plans)
        self.shared = frozenset(i for name in self.twins for i in _positions(names, name) if names.count(name) > 1)
        self.twins = _NONE
        self.positions = _Positions(self.plans, names, self.types, self.shared)


_NONE: frozenset = frozenset()


class _Attention:
    """The positions of one ad's copied values that need more than a copy (_Positions), with what depends on the
    values: the texts, which of them are expressions, the dates that are 0 or beyond 64 bits."""

    __slots__ = ("batched", "casts", "containers", "expressions", "joined", "strings", "texts")

    def __init__(self, copy: _Copy) -> None:
        positions, values = copy.positions, copy.values
        self.strings, self.containers, self.batched = positions.strings, positions.containers, positions.batched
        self.texts = positions.pick_texts(values)
        self.joined = "".join(self.texts)
        self.expressions = _expressions(self.strings, self.texts, self.joined)
        self.casts = positions.casts
        if positions.dates:
            found = positions.pick_dates(values)
            if 0 in found or min(found) < INT64_MIN or max(found) > INT64_MAX:
                odd = zip(positions.dates, found, strict=True)
                self.casts = self.casts + [i for i, date in odd if not date or not INT64_MIN <= date <= INT64_MAX]

    def touches(self, names: tuple[str, ...] | list[str], fields: frozenset[str]) -> bool:
        """Whether a value needing an evaluation or a cast writes one of these fields."""
        at = chain(self.expressions, self.casts, *self.batched.values())
        return any(names[i] in fields for i in at)


def _expressions(strings: list[int], texts: list[str], joined: str) -> set[int]:
    """The positions of the texts that start like an expression, found in the texts joined (C-level searches)."""
    found: set[int] = set()
    at = joined.find(_EXPR_PREFIX)
    if at < 0:
        return found
    ends = list(accumulate(map(len, texts)))
    while at >= 0:
        j = bisect_right(ends, at)  # the text holding this offset
        if (ends[j - 1] if j else 0) == at and texts[j].startswith(_EXPR_PREFIX):
            found.add(strings[j])
        at = joined.find(_EXPR_PREFIX, at + 1)
    return found


def _positions(names: tuple[str, ...] | list[str], name: str) -> list[int]:
    """Where `name` is in `names` (C-level scans: twins are few)."""
    found: list[int] = []
    try:
        while True:
            found.append(names.index(name, found[-1] + 1 if found else 0))
    except ValueError:
        return found


def _copied(ad: JobAd, plan: _Plan, value: Any, limit: int) -> Any:
    """The document value of one attribute: _DROP when it is left out (an error), _Failed when its cast fails."""
    if value.__class__ is str and value.startswith(_EXPR_PREFIX) and value.endswith(_EXPR_SUFFIX):
        value = ad.evaluate(plan.key)
        if value is ERROR:
            return _DROP
        if value.__class__ in _CLEANED:
            value = clean_value(plan.key, value, limit)
    if value is None or value.__class__ is plan.unchanged or plan.cast is None:
        return value
    value = plan.cast(plan.name, value)
    return clean_value(plan.key, value, limit) if value.__class__ in _CLEANED else value


def _write(result: dict[str, Any], unindexed: dict[str, Any], key: str, name: str, value: Any) -> None:
    """Set the field, or leave it out (_DROP); a failed cast also keeps the value in `unindexed`."""
    if value.__class__ is _Failed:
        unindexed[key] = value.original
        value = value.instead
    if value is _DROP:
        result.pop(name, None)
    else:
        result[name] = value


def _cleaned(ad: JobAd, copy: _Copy, at: list[int], limit: int) -> list[Any]:
    """The values with the texts at these positions cleaned (sanitize.clean_value; expressions are cleaned once
    evaluated); the ad's own view is changed too, so that the rules reading these attributes see the same values."""
    cleaned = list(copy.values)
    changed: dict[str, Any] = {}
    for i in at:
        value = cleaned[i]
        if not is_expression(value):
            key = copy.keys[i]
            cleaned[i] = changed[key] = clean_value(key, value, limit)
    ad.raw = {**ad.raw, **changed}
    return cleaned


def copy_attributes(ad: JobAd, text_limit: int, also_evaluate: tuple[str, ...] = ()) -> dict[str, Any]:
    """The typed copy, texts cut to `text_limit` UTF-8 bytes, then the unindexed object if any; `also_evaluate`
    names attributes the later rules read, so that their expressions are evaluated in the same ClassAd as the
    copied ones (see JobAd.evaluate_together). Sets `ad.statistics` for chirp.fold_statistics."""
    raw = ad.raw
    if len(_PLANS) >= _PLANS_MAX:
        _forget()
    layout = _layout(raw)
    ad.statistics = layout.statistics
    copy = _Copy(raw, layout)
    unindexed: dict[str, Any] = {}
    if not _UNINDEXED.keys().isdisjoint(raw.keys()):
        unindexed = {key: clean_value(key, value, text_limit) for key, value in raw.items() if key in _UNINDEXED}
    result = _copy(ad, copy, unindexed, text_limit, also_evaluate)
    if unindexed:
        result[UNINDEXED_FIELD] = unindexed
    return result


def _copy(
    ad: JobAd, copy: _Copy, unindexed: dict[str, Any], text_limit: int, also_evaluate: tuple[str, ...]
) -> dict[str, Any]:
    """The fields of the copy; the values of failed casts are added to `unindexed`."""
    raw = ad.raw
    attention = _Attention(copy)
    values: tuple[Any, ...] | list[Any] = copy.values
    dirty = _any_text_needs_cleaning(attention, text_limit) or _containers_need_cleaning(attention, values, text_limit)
    if copy.twins and (dirty or attention.touches(copy.names, copy.twins)):
        copy.drop_plain_twins()
        attention = _Attention(copy)
    if dirty:
        values = _cleaned(ad, copy, attention.strings + attention.containers, text_limit)
    names, shared = copy.names, copy.shared
    result = dict(zip(names, values, strict=True))
    result.pop("", None)  # the attributes not copied
    for name in copy.twins:  # all plain copies: the stripped source wins
        result[name] = copy.last[name]
    expressions, casts = attention.expressions, attention.casts
    wanted = tuple(name for name in also_evaluate if is_expression(raw.get(name)))
    if expressions or wanted:
        copied = tuple(copy.keys[i] for i in sorted(expressions) if is_expression(values[i]))
        ad.evaluate_together(copied + wanted, memoise=True)
    if not expressions and not casts and not attention.batched:
        return result
    if not shared.isdisjoint(expressions) or not shared.isdisjoint(casts):
        return _copy_in_order(ad, copy, values, unindexed, text_limit)
    for cast, at in attention.batched.items():
        converted = _BATCHED[cast]([values[i] for i in at])
        if converted is None:
            casts = casts + at
        else:
            result.update(zip([names[i] for i in at], converted, strict=True))
    plans = copy.plans
    for i in sorted(expressions.union(casts)):
        plan = plans[i]
        _write(result, unindexed, plan.key, plan.name, _copied(ad, plan, values[i], text_limit))
    return result


def _any_text_needs_cleaning(attention: _Attention, limit: int) -> bool:
    """Whether a text holds NUL or is too long: one C-level test over the ad's texts joined, then one by one."""
    if "\x00" not in attention.joined and len(attention.joined) * 4 <= limit:
        return False
    return any(text_needs_cleaning(text, limit) for text in attention.texts)


def _containers_need_cleaning(attention: _Attention, values: tuple[Any, ...] | list[Any], limit: int) -> bool:
    """Whether a list or object may hold NUL or too long a text: one C-level serialisation of them all."""
    if not attention.containers:
        return False
    try:
        serialised = orjson.dumps([values[i] for i in attention.containers])
    except TypeError:  # keys that are not text: only clean_value can tell
        return True
    return b"\\u0000" in serialised or len(serialised) > limit


def _copy_in_order(
    ad: JobAd, copy: _Copy, values: tuple[Any, ...] | list[Any], unindexed: dict[str, Any], limit: int
) -> dict[str, Any]:
    """The copy one attribute after the other: a later attribute writing the same field replaces the value,
    or removes the field when its own value is left out."""
    result: dict[str, Any] = {}
    plans = copy.plans
    for i in compress(range(len(values)), copy.names):
        plan = plans[i]
        _write(result, unindexed, plan.key, plan.name, _copied(ad, plan, values[i], limit))
    return result


def request_memory_eval(ad: JobAd) -> dict[str, Any]:
    """RequestMemory evaluated against the ad (the raw attribute itself is ignored)."""
    if "RequestMemory" not in ad:
        return {}
    value = ad.get("RequestMemory")
    return {"RequestMemory_Eval": integer(value)}
