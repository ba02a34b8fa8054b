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
from typing import Any, NamedTuple

import orjson

from schemas import UNINDEXED_FIELD
from services.common.raw_message import EXPR_PREFIX, is_expression
from services.converter import ratelimit
from services.converter.expressions import ERROR, JobAd, forget_names, note_name
from services.converter.registry import IGNORED, TYPES
from services.converter.sanitize import clean_value, unindexable
from services.converter.values import INT64_MAX, INT64_MIN, integer

_MATCH_PREFIX = "MATCH_EXP_JOB_"
_RAW_SUFFIX = "_RAW"
_WMCORE_MESSAGE = re.compile(r"^Chirp_WMCore_[A-Za-z0-9]+_Exception_Message$")
_DROP = object()
_CLEANED = frozenset((str, list, dict))  # value types that may hold text (sanitize.clean_value)


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
    elif type(value) is float or isinstance(value, int | float):
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
    if type(value) is int and value and INT64_MIN <= value <= INT64_MAX:  # most dates: returned as they are
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
    is_date: bool


# What the copy's loop reads of an attribute, as a plain tuple (compiled, its unpacking is a few loads):
# (field name, None when not copied; the value types copied as they are; whether a text value is cast; for the
# fields the loop tracks (renamed, statistic), else None; the _Plan). A renamed field's name differs from the
# attribute's; a statistic is a ChirpCMSSW* field, which chirp.fold_statistics reads.
_Entry = tuple[str | None, frozenset[type], bool, tuple[bool, bool] | None, _Plan]


# Attribute name -> _Entry, filled on the first sight of each name (_entry() is a pure function of the name). A
# plain dict, read with a subscript: a dict subclass's subscript goes through a Python-level method call. Nothing
# is kept per attribute list: a schedd's ads seldom repeat theirs (the sites a job read and the steps it ran are
# in its attribute names).
_PLANS: dict[str, _Entry] = {}
_UNINDEXED: dict[str, None] = {}  # the names seen whose attributes go to the unindexed object
_PLANS_MAX = 65536  # attribute names are few in practice; the bound only guards against a flood of odd names
_SKIP: _Entry = (None, frozenset(), False, None, _Plan("", "", None, None, False))  # (the value is not looked at)
_NONE_TYPE = type(None)


def _entry(key: str) -> _Entry:
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
    quiet = {_NONE_TYPE, *([unchanged] if unchanged else [])} if cast is not None else {_NONE_TYPE, int, float, bool}
    quiet -= _CLEANED  # texts may be expressions or need cleaning, and so may the texts inside lists and objects
    cast_text = cast is not None and unchanged is not str
    renamed, statistic = name != key, name.startswith("ChirpCMSSW")
    tracked = (renamed, statistic) if renamed or statistic else None
    return (name, frozenset(quiet), cast_text, tracked, _Plan(key, name, cast, unchanged, date))


def _forget() -> None:
    for table in (_PLANS, _UNINDEXED):
        table.clear()
    forget_names()


@functools.cache  # one per registry cast
def _wmcore(cast: Cast | None) -> Cast:
    """The registry cast (if any) followed by the base64+zlib decoding of WMCore exception messages."""

    def cast_and_decode(name: str, value: Any) -> Any:
        if cast is not None:
            value = cast(name, value)
            if value is _DROP or type(value) is _Failed:
                return value
        return decode_wmcore_message(name, value)

    return cast_and_decode


def _copied(ad: JobAd, plan: _Plan, value: Any, limit: int) -> Any:
    """The document value of one attribute: _DROP when it is left out (an error), _Failed when its cast fails."""
    if is_expression(value):
        value = ad.evaluate(plan.key)
        if value is ERROR:
            return _DROP
        if type(value) in _CLEANED:
            value = clean_value(plan.key, value, limit)
    if value is None or type(value) is plan.unchanged or plan.cast is None:
        return value
    value = plan.cast(plan.name, value)
    return clean_value(plan.key, value, limit) if type(value) in _CLEANED else value


def _write(result: dict[str, Any], unindexed: dict[str, Any], key: str, name: str, value: Any) -> None:
    """Set the field, or leave it out (_DROP); a failed cast also keeps the value in `unindexed`."""
    if type(value) is _Failed:
        unindexed[key] = value.original
        value = value.instead
    if value is _DROP:
        result.pop(name, None)
    else:
        result[name] = value


_REDO = object()  # _last_write's answer when only the copy in order can tell


def copy_attributes(ad: JobAd, text_limit: int, also_evaluate: tuple[str, ...] = ()) -> dict[str, Any]:
    """The typed copy, texts cut to `text_limit` UTF-8 bytes, then the unindexed object if any; `also_evaluate`
    names attributes the later rules read, so that their expressions are evaluated in the same ClassAd as the
    copied ones (see JobAd.evaluate_together). Sets `ad.statistics` for chirp.fold_statistics.

    One pass over the attributes copies the values that need nothing more (most of them, at their final place)
    and notes the others: expressions, casts, dates that are 0 or beyond 64 bits, lists and objects that are cast
    or need cleaning. Twin attributes (`X` and `X_RAW` or `MATCH_EXP_JOB_X`) write one field, whose place is the
    first writer's and whose value the stripped source's: a plain `X` after a stripped one is left out, a later
    stripped one replaces the value. A twin field with a noted writer gets its last writer's value; only when a
    writer leaves the field out or fails its cast is the copy done again one attribute after the other."""
    if len(_PLANS) >= _PLANS_MAX:
        _forget()
    raw = ad.raw
    plans = _PLANS
    result: dict[str, Any] = {}
    statistics: list[str] = []
    noted: list[str] = []  # attributes whose field is set after the evaluations
    expressions: list[str] = []
    containers: list[str] = []
    changed: dict[str, Any] = {}  # texts cleaned
    stripped: set[str] = set()  # fields written by a renamed attribute
    twins: set[str] = set()  # fields written more than once
    plain_first: set[str] = set()  # twins whose plain attribute came first
    renamed: list[str] = []
    for key, value in raw.items():
        try:
            name, quiet, cast_text, tracked, plan = plans[key]
        except KeyError:
            name, quiet, cast_text, tracked, plan = plans[key] = _entry(key)
        if name is None:
            continue
        if tracked is not None:
            renamed_field, statistic = tracked
            if statistic:
                statistics.append(name)
            if renamed_field:
                if name in result:
                    twins.add(name)
                    if name not in stripped:
                        plain_first.add(name)
                stripped.add(name)
                renamed.append(key)
            elif name in stripped:
                continue
        elif stripped and name in stripped:
            continue
        kind = type(value)
        if kind not in quiet:
            if kind is str:
                if EXPR_PREFIX in value and is_expression(value):  # `in`: C-level, rules out most texts
                    expressions.append(key)
                    noted.append(key)
                else:
                    if "\x00" in value or len(value) * 4 > text_limit:
                        cleaned = clean_value(key, value, text_limit)
                        if cleaned is not value:
                            value = changed[key] = cleaned
                    if cast_text:
                        noted.append(key)
            elif kind is list or kind is dict:
                containers.append(key)
                if plan.cast is not None and kind is not plan.unchanged:
                    noted.append(key)
            elif not (plan.is_date and kind is int and value and INT64_MIN <= value <= INT64_MAX):  # a date as it is
                noted.append(key)
        result[name] = value
    ad.statistics = statistics
    if containers and _need_cleaning([raw[key] for key in containers], text_limit):
        changed.update((key, clean_value(key, raw[key], text_limit)) for key in containers)
        noted += containers
    if changed:
        ad.raw = raw = {**raw, **changed}
    unindexed: dict[str, Any] = {}
    if not _UNINDEXED.keys().isdisjoint(raw.keys()):
        unindexed = {key: clean_value(key, value, text_limit) for key, value in raw.items() if key in _UNINDEXED}
    wanted = tuple(name for name in also_evaluate if is_expression(raw.get(name)))
    if expressions or wanted:
        ad.evaluate_together(tuple(expressions) + wanted, memoise=True)
    if noted:
        late: list[str] | dict[str, None] = dict.fromkeys(noted)
        touched = twins.intersection([plans[key][0] for key in late]) if twins else twins
        for name in touched:
            writers = [name] if name in plain_first else []
            value = _last_write(ad, writers + [key for key in renamed if plans[key][0] == name], text_limit)
            if value is _REDO:
                result, late = _copy_in_order(ad, unindexed, text_limit), []
                break
            result[name] = value
        else:
            if touched:
                late = [key for key in late if plans[key][0] not in touched]
        for key in late:
            plan = plans[key][4]
            _write(result, unindexed, key, plan.name, _copied(ad, plan, raw[key], text_limit))
    if unindexed:
        result[UNINDEXED_FIELD] = unindexed
    return result


def _need_cleaning(values: list[Any], limit: int) -> bool:
    """Whether lists or objects may hold NUL or too long a text: one C-level serialisation of them all."""
    try:
        serialised = orjson.dumps(values)
    except TypeError:  # keys that are not text: only clean_value can tell
        return True
    return b"\\u0000" in serialised or len(serialised) > limit


def _last_write(ad: JobAd, writers: list[str], limit: int) -> Any:
    """The value of a field written by several attributes (in the ad's order): the last one's, when each writes a
    value. _REDO when one leaves the field out or fails its cast: the field's place, or the order of the unindexed
    values, then depends on the others, and only the copy in order tells."""
    value = _DROP
    for key in writers:
        value = _copied(ad, _PLANS[key][4], ad.raw[key], limit)
        if value is _DROP or type(value) is _Failed:
            return _REDO
    return value


def _copy_in_order(ad: JobAd, unindexed: dict[str, Any], limit: int) -> dict[str, Any]:
    """The copy one attribute after the other, of the ad's values with texts cleaned: a later attribute writing
    the same field replaces the value, or removes the field when its own value is left out; a plain attribute
    after a renamed one of the same field is left out."""
    result: dict[str, Any] = {}
    stripped: set[str] = set()
    for key, value in ad.raw.items():
        name, _quiet, _cast_text, tracked, plan = _PLANS[key]
        renamed = tracked is not None and tracked[0]
        if name is None or (not renamed and name in stripped):
            continue
        if renamed:
            stripped.add(name)
        _write(result, unindexed, key, name, _copied(ad, plan, value, limit))
    return result


def request_memory_eval(ad: JobAd) -> dict[str, Any]:
    """RequestMemory evaluated against the ad (the raw attribute itself is ignored)."""
    if "RequestMemory" not in ad:
        return {}
    value = ad.get("RequestMemory")
    return {"RequestMemory_Eval": integer(value)}
