"""Converted job documents whose unregistered attributes do what real ads do: the same name carries an int in
one job, text, a bool, an object or a list in another (custom `+Attr`s of different submit tools), objects are
scalars elsewhere, attribute lists differ from job to job, and some documents hold odd names under
spider_unindexed, as the converter puts them there. Deterministic for a seed."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import schemas
from services.sinks.templates import load_registry

from .search_sink_support import Doc, job_doc

_PREFIXES = ("CRAB_", "CMS_", "GLIDEIN_", "MachineAttr", "WMAgent_", "Chirp_", "JobMachineAttrs_", "Submit_", "My_")
_STEMS = (
    "Retries", "Priority", "Factory", "Entry", "Gatekeeper", "Slots", "Tag", "Flags", "Config", "Schedd", "Memory",
    "Disk", "Walltime", "Accelerator", "Owner", "Group", "Stage", "Queue", "Pilot", "Campaign", "Dataset", "Lumis",
)  # fmt: skip
_SUFFIXES = ("", "0", "_Raw", "Info", "Count")
_SUB_KEYS = ("Name", "Count", "Site", "Enabled", "Ratio", "Hosts")
_DEEP_KEYS = ("Min", "Max", "Unit")
_SITES = ("T2_CH_CERN", "T1_US_FNAL", "T2_DE_DESY", "T3_US_Colorado", "T2_IT_Pisa", "T1_UK_RAL_Disk")
_TEXTS = ("Unknown", "undefined", "", "vocms0255.cern.ch", "glidein_3_4_5", "Zürich", "/store/mc/Run3/AOD", "1e5")
_INTS = (0, 1, -1, 4, 2048, 1709596800, 2**63 - 1, -(2**63), 86400)
_FLOATS = (0.0, 87.5, 1e-9, 3.14159, -2.5, 1e300, 2048.0)
# Names the converter moves under spider_unindexed: empty, dotted, NUL and control characters, over 256 bytes,
# a leading underscore (ES metadata fields such as _id).
ODD_NAMES = ("", "a.b.c", ".", "x\x00y", "tab\there", "N" * 300, "é" * 200, "_id", "_source", "Dotted.Name.0")


def attribute_names(rng: random.Random, count: int) -> list[str]:
    """`count` distinct CMS-like names that the registry does not know."""
    registered = set(load_registry()["fields"])
    names = [p + s + x for p in _PREFIXES for s in _STEMS for x in _SUFFIXES]
    return rng.sample([name for name in names if name not in registered], count)


def _scalar(rng: random.Random) -> Any:
    kind = rng.randrange(5)
    if kind == 0:
        return rng.choice(_INTS) if rng.random() < 0.3 else rng.randrange(-1000, 10**7)
    if kind == 1:
        return rng.choice(_FLOATS) if rng.random() < 0.3 else round(rng.uniform(-100, 1e4), 3)
    if kind == 2:
        return rng.random() < 0.5
    if kind == 3:
        return rng.choice(_SITES + _TEXTS)
    return rng.choice(_SITES) + "," + rng.choice(_SITES)


_ENVIRONMENT = " ".join(
    f"CMS_VAR_{i}={_TEXTS[i % len(_TEXTS)] or 'x'};PATH_{i}=/cvmfs/cms.cern.ch/bin" for i in range(120)
)


def _long_text(rng: random.Random) -> str:
    """An Environment-like text of 0.3-4 KB: beyond the keywords' ignore_above."""
    start = rng.randrange(0, 2000)
    return _ENVIRONMENT[start : start + rng.randrange(300, 4000)]


def _object(rng: random.Random) -> dict[str, Any]:
    """An object whose `Hosts` member is itself an object in some documents and a value in others."""
    out: dict[str, Any] = {key: _scalar(rng) for key in rng.sample(_SUB_KEYS, rng.randrange(1, len(_SUB_KEYS)))}
    if "Hosts" in out and rng.random() < 0.5:
        out["Hosts"] = {key: _scalar(rng) for key in rng.sample(_DEEP_KEYS, rng.randrange(1, 4))}
    return out


def _mixed_list(rng: random.Random) -> list[Any]:
    return [_scalar(rng) for _ in range(rng.randrange(0, 6))]


def _objects_list(rng: random.Random) -> list[Any]:
    return [_object(rng) for _ in range(rng.randrange(1, 4))]


def _null(rng: random.Random) -> None:
    return None


Maker = Callable[[random.Random], Any]
_SCALARS: tuple[Maker, ...] = (_scalar,) * 60 + (_mixed_list,) * 10 + (_long_text,) + (_null,) * 5
_SHAPES: tuple[Maker, ...] = _SCALARS + (_object,) * 12 + (_objects_list,) * 4


def value(rng: random.Random, shapes: bool) -> Any:
    """A value of any JSON type; objects and lists of objects only for names that take `shapes`."""
    return rng.choice(_SHAPES if shapes else _SCALARS)(rng)


def varied_docs(total: int, *, seed: int = 13, names: int = 150, shaped: int = 40, days: int = 3) -> list[Doc]:
    """`total` documents over `days` daily indices: the registered core of search_sink_support.job_doc plus
    15-60 of `names` unregistered attributes (the first ones in most jobs, the rest rarer), values of varied
    JSON types; `shaped` names also take objects and lists of objects. 1 in 20 holds odd names under
    spider_unindexed."""
    rng = random.Random(seed)
    pool = attribute_names(rng, names)
    shapes = set(rng.sample(pool, shaped))
    docs = []
    for n in range(total):
        common = [name for name in pool[:20] if rng.random() < 0.9]
        rare = rng.sample(pool[20:], rng.randrange(0, 40))
        attributes = {name: value(rng, name in shapes) for name in common + rare}
        if n % 20 == 7:
            attributes[schemas.UNINDEXED_FIELD] = {name: value(rng, True) for name in rng.sample(ODD_NAMES, 4)}
        docs.append(job_doc(n, day=n % days, **attributes))
    return docs
