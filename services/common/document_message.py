"""The document message (schemas/document_message.md): converter -> Kafka -> sinks.

key = document id (`GlobalJobId#RecordTime`, UTF-8); value = the document JSON, dates in epoch seconds;
headers carry what a sink needs to route the document without parsing the body (schema version, daily
index date, source, converter git hash).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from schemas import DOCUMENT_SCHEMA
from services.common import version
from services.common.json_object import loads_object

Headers = list[tuple[str, bytes]]


class MalformedDocument(ValueError):
    """The Kafka message is not a document message of a schema version we read."""


class DocumentLike(Protocol):
    """What the converter's Document offers; typed structurally so this module does not import the converter."""

    id: str
    index_date: str
    source: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DocMessage:
    id: str
    index_date: str
    source: str
    git_hash: str | None
    # The document JSON as received: the search sinks put these bytes into the bulk body unparsed.
    value: bytes = field(repr=False, compare=False)
    # The parsed value, only when decoded with parse_body=True (the ActiveMQ sink rewrites the document).
    body: dict[str, Any] | None = None


def encode(doc: DocumentLike, git_hash: str | None = None) -> tuple[bytes, bytes, Headers]:
    """(key, value, headers) of the Kafka message carrying one document."""
    headers = [
        ("schema", DOCUMENT_SCHEMA.encode()),
        ("index_date", doc.index_date.encode()),
        ("source", doc.source.encode()),
        ("git_hash", (git_hash or version.git_hash()).encode()),
    ]
    return doc.id.encode(), orjson.dumps(doc.body), headers


def _header_map(headers: Sequence[tuple[str, bytes | None]] | Mapping[str, bytes | None] | None) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else (headers or ())
    out = {}
    for name, raw in items:
        if raw is None:
            continue
        try:
            out[name] = raw.decode() if isinstance(raw, bytes | bytearray) else str(raw)
        except UnicodeDecodeError:
            raise MalformedDocument(f"header {name!r} is not UTF-8") from None
    return out


def decode(
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]] | Mapping[str, bytes | None] | None,
    *,
    parse_body: bool = True,
) -> DocMessage:
    """Check and parse one document message; anything else raises MalformedDocument with the reason.

    Headers may be given as Kafka clients return them: a list of (name, bytes) pairs or a mapping.
    With parse_body=False the value is not parsed (`body` stays None) and not checked beyond being present:
    parsing was ~40% of the search sinks' CPU, and the cluster rejects a value that is not a JSON object per
    document, which those sinks dead-letter like any other rejection.
    """
    fields = _header_map(headers)
    if fields.get("schema") != DOCUMENT_SCHEMA:
        raise MalformedDocument(f"unsupported schema {fields.get('schema')!r}, expected {DOCUMENT_SCHEMA!r}")
    for name in ("index_date", "source"):
        if not fields.get(name):
            raise MalformedDocument(f"missing header {name!r}")
    if not key:
        raise MalformedDocument("missing key (document id)")
    try:
        doc_id = key.decode()
    except UnicodeDecodeError:
        raise MalformedDocument("key is not UTF-8") from None
    if not value:
        raise MalformedDocument("empty value")
    body = loads_object(value, MalformedDocument) if parse_body else None
    return DocMessage(
        id=doc_id,
        index_date=fields["index_date"],
        source=fields["source"],
        git_hash=fields.get("git_hash"),
        value=value,
        body=body,
    )
