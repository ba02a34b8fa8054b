"""What an index cannot take from an ad, decided per name or per value (docs/conversion.md, "Decisions").

- Attribute names that cannot be index fields (`unindexable`) are kept, value not cast, under their original
  name in the document object `schemas.UNINDEXED_FIELD`, which no index maps (the copy applies the rule).
- NUL characters are removed from text (HTCondor strings cannot hold them, so they are never data).
- Text longer than the context's limit is cut at a UTF-8 boundary and ends with a marker naming its size.

Each change of a value is logged at most once a minute per attribute (ratelimit.py), with a suppressed count.
"""

from __future__ import annotations

import re
from typing import Any

from services.converter import ratelimit

NAME_MAX_BYTES = 256
TEXT_LIMIT_BYTES = 64 * 1024  # the default of the converter setting max_text_bytes
TEXT_LIMIT_MIN_BYTES = 1024  # room for some text beside the marker
_ODD_CHARACTER = re.compile(r"[.\x00-\x1f\x7f-\x9f]")  # object-path dots, C0/DEL/C1 control characters
_MARKER = "...[truncated by spider: {} bytes]"


def unindexable(name: str) -> bool:
    """A document field name no index can hold as a field of its own: empty or only white space (refused by
    Elasticsearch), '.' (an object path: `a.b` collides with a field `a`), control characters, more than 256
    UTF-8 bytes, or a leading '_' (reserved for metadata fields such as _id)."""
    return (
        not name
        or name[0] == "_"
        or name.isspace()
        or _ODD_CHARACTER.search(name) is not None
        or len(name.encode("utf-8", "surrogatepass")) > NAME_MAX_BYTES
    )


def text_needs_cleaning(text: str, limit: int) -> bool:
    """Whether `clean_text` would change it (cheap test first: a character is at most 4 UTF-8 bytes)."""
    return "\x00" in text or (len(text) * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit)


def clean_text(attribute: str, text: str, limit: int) -> str:
    """The text without NUL characters, cut to at most `limit` UTF-8 bytes marker included."""
    if "\x00" in text:
        warning = f"{_shown(attribute)}: {text.count(chr(0))} NUL characters removed from a text"
        ratelimit.warn("nul", attribute, warning)
        text = text.replace("\x00", "")
    if len(text) * 4 <= limit:
        return text
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= limit:
        return text
    marker = _MARKER.format(len(encoded))
    kept = encoded[: max(limit - len(marker), 0)].decode("utf-8", "ignore")  # "ignore": a cut character goes
    warning = f"{_shown(attribute)}: text of {len(encoded)} bytes truncated to {limit} (max_text_bytes)"
    ratelimit.warn("truncated", attribute, warning)
    return kept + marker


def clean_value(attribute: str, value: Any, limit: int) -> Any:
    """`clean_text` applied to a text, or to every text (keys included) inside lists and objects."""
    if isinstance(value, str):
        return clean_text(attribute, value, limit) if text_needs_cleaning(value, limit) else value
    if isinstance(value, list):
        return [clean_value(attribute, item, limit) for item in value]
    if isinstance(value, dict):
        return {clean_value(attribute, key, limit): clean_value(attribute, item, limit) for key, item in value.items()}
    return value


def _shown(attribute: str) -> str:
    """The name as a log line can hold it: odd names may carry control characters (terminal escapes)."""
    return attribute if attribute.isprintable() else repr(attribute)
