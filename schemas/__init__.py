"""The wire formats, field types and templates, as data files; these helpers only locate and load them."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import orjson

SCHEMA_DIR = Path(__file__).resolve().parent

RAW_AD_SCHEMA = "spider.raw_ad/1"
DOCUMENT_SCHEMA = "spider.document/1"
DEAD_LETTER_SCHEMA = "spider.dead_letter/1"


@functools.cache
def load(name: str) -> Any:
    """A JSON file of this folder, parsed once per process (e.g. `load("raw_ad.v1.schema.json")`)."""
    return orjson.loads((SCHEMA_DIR / name).read_bytes())
