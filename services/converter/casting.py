"""Copy of the ad's attributes into the document, typed per the registry.

Rules (reference `bulk_convert_ad_data`): ignored attributes are left out; `HasBeen*` attributes only
when the registry types them bool; `DESIRED_SITES` becomes `DESIRED_Sites`; the `MATCH_EXP_JOB_` prefix
and the `_RAW` suffix are stripped from names (when both spellings are present the stripped source
wins, so the result does not depend on attribute order); undefined -> null; error -> left out;
int/float/bool/string/date casts per the registry, a failed cast leaves the attribute out with a
rate-limited warning (dates become null instead, as in the reference); WMCore exception messages
(base64 + zlib) are decoded to text.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import zlib
from typing import Any

from services.common.raw_message import is_expression
from services.converter import ratelimit
from services.converter.expressions import ERROR, JobAd
from services.converter.registry import IGNORED, TYPES

_MATCH_PREFIX = "MATCH_EXP_JOB_"
_RAW_SUFFIX = "_RAW"
_WMCORE_MESSAGE = re.compile(r"^Chirp_WMCore_[A-Za-z0-9]+_Exception_Message$")
_DROP = object()
_EXPR_PREFIX = "/Expr("


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


def _bad(kind: str, name: str, value: Any) -> object:
    ratelimit.warn("cast", name, f"cannot convert {name}={value!r:.80} to {kind}; attribute left out")
    return _DROP


def _to_int(name: str, value: Any) -> Any:
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            if value == "Unknown":
                return None
            if name == "GLIDEIN_MaxMemMBs" and value == "GLIDEIN_MaxMemMBs":
                return _DROP  # unexpanded pilot macro, known upstream problem: not worth a warning
    return _bad("int", name, value)


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
    if value == 0 or (isinstance(value, str) and value.lower() == "unknown"):
        return None
    if isinstance(value, int | float):
        return int(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        ratelimit.warn("cast", name, f"cannot convert {name}={value!r:.80} to a date; set to null")
        return None


def _to_bool(value: Any) -> bool:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return bool(value)


def _cast(kind: str, name: str, value: Any) -> Any:
    if kind == "string":
        return value if isinstance(value, str) else str(value)
    if kind == "int":
        return _to_int(name, value)
    if kind == "date":
        return _to_date(name, value)
    if kind == "bool":
        return _to_bool(value)
    if kind == "float":
        return _to_float(name, value)
    if kind == "nested":
        ok = isinstance(value, list) and all(isinstance(item, dict) for item in value)
        return value if ok else _bad("a list of objects", name, value)
    if kind == "object":
        return value if isinstance(value, dict) else _bad("an object", name, value)
    return value


def decode_wmcore_message(name: str, value: Any) -> Any:
    """WMCore chirps exception messages base64-encoded zlib; undecodable values stay as they are."""
    if not isinstance(value, str):
        return value
    try:
        return zlib.decompress(base64.b64decode(value, validate=True)).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError, zlib.error):
        ratelimit.warn("decode", name, f"{name} is not base64+zlib; kept as it is")
        return value


@functools.lru_cache(maxsize=8192)
def _plan(key: str) -> tuple[str, str | None, bool] | None:
    """(document name, registry type, is a WMCore message) of an attribute; None when not copied."""
    name = document_name(key)
    if name is None:
        return None
    return name, TYPES.get(name), bool(_WMCORE_MESSAGE.match(name))


def copy_attributes(ad: JobAd) -> dict[str, Any]:
    result: dict[str, Any] = {}
    renamed: set[str] = set()
    for key, value in ad.raw.items():
        plan = _plan(key)
        if plan is None:
            continue
        name, kind, wmcore = plan
        if name == key:
            if name in renamed:
                continue
        else:
            renamed.add(name)
        if value.__class__ is str and value.startswith(_EXPR_PREFIX) and is_expression(value):
            value = ad.evaluate(key)
            if value is ERROR:
                result.pop(name, None)
                continue
        if value is not None:
            if kind is not None:
                value = _cast(kind, name, value)
                if value is _DROP:
                    result.pop(name, None)
                    continue
            if wmcore:
                value = decode_wmcore_message(name, value)
        result[name] = value
    return result


def request_memory_eval(ad: JobAd) -> dict[str, Any]:
    """RequestMemory evaluated against the ad (the raw attribute itself is ignored)."""
    if "RequestMemory" not in ad:
        return {}
    value = ad.get("RequestMemory")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"RequestMemory_Eval": int(value)}
    return {"RequestMemory_Eval": None}
