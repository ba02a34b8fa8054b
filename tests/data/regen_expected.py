"""Rewrites tests/data/expected/*.json from the current converter.

Only for a deliberate rule change: review every changed value by hand (git diff) before committing.
Run: python tests/data/regen_expected.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "converter"))
import golden

for name in golden.names():
    document = golden.converted(name)
    out = golden.EXPECTED / f"{name}.json"
    out.write_bytes(orjson.dumps(golden.as_json(document), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    print(out)
