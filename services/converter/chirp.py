"""CMSSW statistics chirped by the job wrapper (ChirpCMSSW*), per step and per input site.

`ChirpCMSSW_<step>_<Stat>` values are folded into `ChirpCMSSW<Stat>`: the maximum for LastUpdate,
*Events, MaxLumis and MaxFiles, the sum otherwise (text values such as CPU models keep the first one).
`ChirpCMSSW<step>IOSite_<site>_ReadBytes` / `_ReadTimeMS` pairs become entries of the nested
`ChirpCMSSW_SiteIO` list. The derived rates and volumes follow (KEvents, InputGB, EventRate...).
"""

from __future__ import annotations

import functools
import re
from typing import Any, NamedTuple

from services.converter.registry import TYPES
from services.converter.values import INT64_MAX, INT64_MIN, integer, number

_IOSITE = re.compile(r"ChirpCMSSW(.*?)IOSite_(.*)_(ReadBytes|ReadTimeMS)$")
_MAXED = ("LastUpdate", "Events", "MaxLumis", "MaxFiles")
_EXACT = {"int": int, "date": int, "float": float}  # registry type -> the values _typed returns unchanged


def _fold(current: Any, value: Any, maxed: bool) -> Any:
    """Max or sum of two numbers; with a missing or non-numeric side, the value already there stays."""
    if current is None:
        return value
    a, b = number(current), number(value)
    if a is None or b is None:
        return current
    return max(a, b) if maxed else a + b


def _typed(kind: str | None, value: Any) -> Any:
    """The folded total in its registry type (a per-step value of the wrong kind gives null)."""
    if kind in ("int", "date"):
        return integer(value)
    if kind == "float":
        found = number(value)
        return None if found is None else float(found)
    if kind == "string" and value is not None and not isinstance(value, str):
        return str(value)
    return value


class _StepStatistic(NamedTuple):
    total: str  # the ChirpCMSSW<Stat> key it is folded into
    maxed: bool
    kind: str | None  # registry type of the total


class _SiteRead(NamedTuple):
    site: str
    chirp_string: str
    time_key: str  # the ReadTimeMS key paired with this ReadBytes key


@functools.lru_cache(maxsize=8192)
def _role(key: str) -> _StepStatistic | _SiteRead | None:
    """What a ChirpCMSSW* key contributes (None: nothing, it is a total or the time half of a site pair);
    a memo of a pure function of the name, since ads repeat the same step and site names."""
    if "IOSite" in key:
        match = _IOSITE.match(key)
        if match is None or match.group(3) != "ReadBytes":
            return None
        return _SiteRead(match.group(2), match.group(1).strip("_"), key[: -len("_ReadBytes")] + "_ReadTimeMS")
    if key.startswith("ChirpCMSSW_"):
        total = "ChirpCMSSW" + key.split("_", 2)[-1]
        return _StepStatistic(total, total.endswith(_MAXED), TYPES.get(total))
    return None


def fold_statistics(result: dict[str, Any], statistics: list[str]) -> None:
    """Per-step and per-site keys into their totals and the SiteIO list (in place, like the copy step).
    `statistics`: the ChirpCMSSW* fields the attribute copy wrote, in order (JobAd.statistics)."""
    site_io: list[dict[str, Any]] = []
    for key in dict.fromkeys(statistics):
        role = _role(key)
        if role is None or key not in result:  # nothing to fold, or left out by the copy (a failed cast)
            continue
        if type(role) is _SiteRead:
            if role.time_key in result:
                site_io.append(
                    {
                        "SiteName": role.site,
                        "ChirpString": role.chirp_string,
                        "ReadBytes": integer(result.pop(key)),
                        "ReadTimeMS": integer(result.pop(role.time_key)),
                    }
                )
            continue
        total, maxed, kind = role
        value = result[key]
        if total not in result and type(value) is _EXACT.get(kind) and INT64_MIN <= value <= INT64_MAX:
            result[total] = value  # the first step's value, already of the total's type: _typed would keep it
        else:
            result[total] = _typed(kind, _fold(result.get(total), value, maxed))
    if site_io:
        result["ChirpCMSSW_SiteIO"] = site_io


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def derived_fields(result: dict[str, Any], record_time: int, cpus: int, core_hr: float) -> dict[str, Any]:
    """Human-sized figures from the folded statistics; only those whose inputs are present."""
    get = result.get
    fields: dict[str, Any] = {}
    if "ChirpCMSSWFiles" in result:
        fields["CompletedFiles"] = get("ChirpCMSSWFiles")
    max_files = number(get("ChirpCMSSWMaxFiles"), -1)
    if max_files > 0:
        fields["MaxFiles"] = get("ChirpCMSSWMaxFiles")
    done = get("ChirpCMSSWDone")
    if "ChirpCMSSWDone" in result:
        fields["CMSSWDone"] = bool(done)
        fields["ChirpCMSSWDone"] = int(number(done, 0)) if not isinstance(done, bool) else int(done)
    elapsed = number(get("ChirpCMSSWElapsed"))
    events = number(get("ChirpCMSSWEvents"))
    if elapsed is not None:
        fields["CMSSWWallHrs"] = elapsed / 3600.0
    if events is not None:
        fields["KEvents"] = events / 1000.0
        fields["MegaEvents"] = events / 1e6
    last_update = number(get("ChirpCMSSWLastUpdate"))
    if last_update is not None:
        since = max(record_time - last_update, 0) / 3600.0
        fields["SinceLastCMSSWUpdateHrs"] = since
        if get("Status") == "Completed":
            fields["StageOutHrs"] = since
    for source, name, scale in (
        ("ChirpCMSSWLumis", "CMSSWKLumis", 1000.0),
        ("ChirpCMSSWReadBytes", "InputGB", 1e9),
        ("ChirpCMSSWReadTimeMsecs", "ReadTimeHrs", 3600000.0),
        ("ChirpCMSSWReadTimeMsecs", "ReadTimeMins", 60000.0),
        ("ChirpCMSSWWriteBytes", "OutputGB", 1e9),
        ("ChirpCMSSWWriteTimeMsecs", "WriteTimeHrs", 3600000.0),
        ("ChirpCMSSWWriteTimeMsecs", "WriteTimeMins", 60000.0),
    ):
        value = number(get(source))
        if value is not None:
            fields[name] = value / scale
    if fields.get("CMSSWDone") and elapsed is not None and elapsed > 0:
        rate = _ratio(number(events, 0), float(elapsed * cpus))
        if rate is not None:
            fields["CMSSWEventRate"] = rate
            if rate > 0:
                fields["CMSSWTimePerEvent"] = 1.0 / rate
    if core_hr > 0:
        rate = number(events, 0) / float(core_hr * 3600.0)
        fields["EventRate"] = rate
        if rate > 0:
            fields["TimePerEvent"] = 1.0 / rate
    reads = number(get("ChirpCMSSWReadOps"))
    segments = number(get("ChirpCMSSWReadSegments"))
    vector_reads = number(get("ChirpCMSSWReadVOps"))
    if reads is not None and segments is not None and reads + segments:
        fields["ReadOpSegmentPercent"] = reads / float(reads + segments) * 100
    if reads is not None and vector_reads is not None and reads + vector_reads:
        fields["ReadOpsPercent"] = reads / float(reads + vector_reads) * 100
    return fields
