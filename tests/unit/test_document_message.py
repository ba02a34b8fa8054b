"""The document message: what the converter writes and the sinks read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from schemas import DOCUMENT_SCHEMA
from services.common import document_message
from services.common.document_message import DocMessage, MalformedDocument


@dataclass(frozen=True)
class Doc:
    id: str
    index_date: str
    source: str
    body: dict[str, Any]


DOC = Doc(
    id="vocms0155.cern.ch#1234567.0#1700000000#1700003600",
    index_date="2023-11-14",
    source="condor_history",
    body={"GlobalJobId": "vocms0155.cern.ch#1234567.0#1700000000", "RecordTime": 1700003600, "CoreHr": 2.5},
)


def test_encode_gives_id_key_json_value_and_routing_headers():
    key, value, headers = document_message.encode(DOC, git_hash="abc123def456")

    assert key == b"vocms0155.cern.ch#1234567.0#1700000000#1700003600"
    assert orjson.loads(value) == DOC.body
    assert headers == [
        ("schema", b"spider.document/1"),
        ("index_date", b"2023-11-14"),
        ("source", b"condor_history"),
        ("git_hash", b"abc123def456"),
    ]


def test_decode_reverses_encode():
    key, value, headers = document_message.encode(DOC, git_hash="abc123def456")

    message = document_message.decode(key, value, headers)

    assert message == DocMessage(
        id=DOC.id, index_date="2023-11-14", source="condor_history", git_hash="abc123def456", value=value, body=DOC.body
    )
    assert message.value is value


def test_decode_without_parse_body_keeps_the_value_unparsed():
    key, value, headers = document_message.encode(DOC, git_hash="abc123def456")

    message = document_message.decode(key, value, headers, parse_body=False)

    assert (message.id, message.index_date, message.source) == (DOC.id, "2023-11-14", "condor_history")
    assert message.value is value
    assert message.body is None


def test_decode_without_parse_body_leaves_a_value_that_is_not_an_object_to_the_target():
    key, _, headers = document_message.encode(DOC, git_hash="abc")

    assert document_message.decode(key, b"[1, 2]", headers, parse_body=False).value == b"[1, 2]"


def test_decode_accepts_headers_as_a_mapping():
    key, value, headers = document_message.encode(DOC, git_hash="abc")

    assert document_message.decode(key, value, dict(headers)).index_date == "2023-11-14"


@pytest.mark.parametrize(
    ("key", "value", "headers", "reason"),
    [
        (b"id", b"{}", [("schema", b"spider.document/2")], "unsupported schema"),
        (b"id", b"{}", [], "unsupported schema"),
        (b"id", b"{}", [("schema", DOCUMENT_SCHEMA.encode()), ("source", b"file")], "index_date"),
        (None, b"{}", [("schema", DOCUMENT_SCHEMA.encode()), ("index_date", b"d"), ("source", b"f")], "key"),
        (b"id", b"[1]", [("schema", DOCUMENT_SCHEMA.encode()), ("index_date", b"d"), ("source", b"f")], "object"),
        (b"id", b"{", [("schema", DOCUMENT_SCHEMA.encode()), ("index_date", b"d"), ("source", b"f")], "not JSON"),
        (b"\xff", b"{}", [("schema", DOCUMENT_SCHEMA.encode()), ("index_date", b"d"), ("source", b"f")], "UTF-8"),
        (b"id", b"", [("schema", DOCUMENT_SCHEMA.encode()), ("index_date", b"d"), ("source", b"f")], "empty value"),
    ],
)
def test_decode_rejects_what_is_not_a_document_message(key, value, headers, reason):
    with pytest.raises(MalformedDocument, match=reason):
        document_message.decode(key, value, headers)


@pytest.mark.parametrize(
    ("key", "value", "headers", "reason"),
    [
        (b"id", b"{}", [("schema", b"spider.document/2")], "unsupported schema"),
        (None, b"{}", [("schema", DOCUMENT_SCHEMA.encode()), ("index_date", b"d"), ("source", b"f")], "key"),
        (b"id", None, [("schema", DOCUMENT_SCHEMA.encode()), ("index_date", b"d"), ("source", b"f")], "empty value"),
    ],
)
def test_decode_without_parse_body_still_checks_the_envelope(key, value, headers, reason):
    with pytest.raises(MalformedDocument, match=reason):
        document_message.decode(key, value, headers, parse_body=False)
