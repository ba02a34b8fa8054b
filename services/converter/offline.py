"""`spider convert`: ads from a file -> NDJSON documents, through the very step the service runs.

ClassAd text is first wrapped into raw messages exactly as the collector would publish it, so a document
written here is byte-identical to the Kafka message value the service produces for the same ad and
collection time. Exit status: 0 every ad converted (or deliberately dropped), 4 (partial) some ads were skipped
(malformed, or rejected by the conversion; each reported on stderr with its line).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from services.common import raw_message
from services.common.adfile import AdRecord
from services.common.dead_letter import Origin
from services.common.errors import ExitStatus
from services.converter.convert import ConversionContext
from services.converter.pipeline import Converted, DeadLettered, step


@dataclass(frozen=True, slots=True)
class Envelope:
    """How to wrap bare ClassAds (raw-message lines carry their own envelope)."""

    source: str
    pool: str | None
    schedd: str | None
    collected_at: float


@dataclass(slots=True)
class Summary:
    documents: int = 0
    dropped: int = 0
    skipped: int = 0

    @property
    def exit_code(self) -> int:
        return ExitStatus.PARTIAL if self.skipped else ExitStatus.OK


def message_bytes(record: AdRecord, envelope: Envelope) -> bytes:
    """The raw message for one file record, as the collector would have published it."""
    if record.ad is None:
        return record.text.encode()
    _, value = raw_message.encode(
        record.ad,
        source=envelope.source,
        pool=envelope.pool,
        schedd=envelope.schedd,
        collected_at=envelope.collected_at,
    )
    return value


def convert_records(
    records: Iterable[AdRecord],
    envelope: Envelope,
    context: ConversionContext,
    service: Mapping[str, str],
    out: BinaryIO,
    err: TextIO,
    name: str,
) -> Summary:
    """Write one document per line to `out`; report every skipped ad on `err` as `name:line: reason`."""
    summary = Summary()
    for record in records:
        if record.error is not None:
            summary.skipped += 1
            err.write(f"{name}:{record.line}: skipped malformed ad: {record.error}\n")
            continue
        outcome = step(message_bytes(record, envelope), context, Origin(), service)
        if isinstance(outcome, Converted):
            out.write(outcome.value + b"\n")
            summary.documents += 1
        elif isinstance(outcome, DeadLettered):
            summary.skipped += 1
            err.write(f"{name}:{record.line}: skipped ad ({outcome.reason}): {outcome.message}\n")
        else:
            summary.dropped += 1
    return summary
