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

# The document field whose content no index maps (an `enabled: false` object): attributes that cannot be index
# fields (odd names) or that conflict with the index mapping are kept here, in _source, instead of being lost.
UNINDEXED_FIELD = "spider_unindexed"


@functools.cache
def load(name: str) -> Any:
    """A JSON file of this folder, parsed once per process (e.g. `load("raw_ad.v1.schema.json")`)."""
    return orjson.loads((SCHEMA_DIR / name).read_bytes())
