"""Read job ads from files: `condor_history -long` output, schedd history files, or raw-message NDJSON.

Used by `spider collector --from-file` (back-fills, replays of captured data, the demo) and by the offline
`spider convert`. classad2 silently drops a line it cannot parse, so every attribute line is checked to have
made it into the ad: a malformed ad is reported with its line number instead of being published incomplete.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import classad2

from services.common import raw_message
from services.common.raw_message import RawAd

_ATTRIBUTE_LINE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=")


@dataclass(frozen=True, slots=True)
class AdRecord:
    """One ad of a file, or why it could not be read; `text` keeps the original for a dead-letter record."""

    line: int
    text: str
    ad: classad2.ClassAd | None = None
    raw: RawAd | None = None
    error: str | None = None


def parse_classad(lines: list[str]) -> classad2.ClassAd:
    """One ad in the old ClassAd syntax; raises ValueError naming the first line that did not parse."""
    names: list[str] = []
    for offset, line in enumerate(lines):
        match = _ATTRIBUTE_LINE.match(line)
        if match is None:
            raise ValueError(f"line {offset + 1} of the ad is not 'Name = expression': {line.strip()[:80]!r}")
        names.append(match.group(1))
    ad = classad2.parseNext("".join(lines), classad2.ParserType.Old) if names else classad2.ClassAd()
    if len(ad) != len({name.lower() for name in names}):
        missing = next(offset for offset, name in enumerate(names) if name not in ad)
        raise ValueError(f"line {missing + 1} of the ad has an invalid expression: {lines[missing].strip()[:80]!r}")
    return ad


def _classad_chunks(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, list[str]]]:
    """Split on blank lines and on the `*** ...` banners of schedd history files."""
    start, chunk = 0, []
    for number, line in lines:
        if not line.strip() or line.startswith("***"):
            if chunk:
                yield start, chunk
            chunk = []
            continue
        if not chunk:
            start = number
        chunk.append(line if line.endswith("\n") else line + "\n")
    if chunk:
        yield start, chunk


def read_classad_text(lines: Iterable[tuple[int, str]]) -> Iterator[AdRecord]:
    for start, chunk in _classad_chunks(lines):
        text = "".join(chunk)
        try:
            yield AdRecord(line=start, text=text, ad=parse_classad(chunk))
        except ValueError as exc:
            yield AdRecord(line=start, text=text, error=str(exc))


def read_raw_messages(lines: Iterable[tuple[int, str]]) -> Iterator[AdRecord]:
    for number, line in lines:
        if not line.strip():
            continue
        try:
            yield AdRecord(line=number, text=line, raw=raw_message.decode(line.encode()))
        except raw_message.MalformedMessage as exc:
            yield AdRecord(line=number, text=line, error=str(exc))


def read_ads(path: Path) -> Iterator[AdRecord]:
    """Stream the ads of a file, detecting its format from the first non-blank character ('{' = NDJSON)."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        numbered = enumerate(handle, start=1)
        first: list[tuple[int, str]] = []
        for number, line in numbered:
            if line.strip():
                first.append((number, line))
                break
        if not first:
            return
        rest = itertools.chain(first, numbered)
        reader = read_raw_messages if first[0][1].lstrip().startswith("{") else read_classad_text
        yield from reader(rest)
