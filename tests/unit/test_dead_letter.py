"""Dead-letter records: the reason, the error type and the untouched original bytes."""

from __future__ import annotations

import base64

import jsonschema
import orjson
import pytest

import schemas
from services.common import dead_letter
from services.common.dead_letter import MalformedDeadLetter, Origin

SERVICE = {"name": "converter", "version": "0.1.0", "git_hash": "abc123def456", "host": "spider-1.cern.ch"}
ORIGIN = Origin(
    topic="spider.raw.history",
    partition=3,
    offset=41,
    key=b"vocms0155.cern.ch#1234567.0#1700000000",
    value=b'{"schema": "spider.raw_ad/0"}',
)


def test_record_carries_reason_error_type_and_original_bytes():
    letter = dead_letter.record("converter", ValueError("unsupported schema"), ORIGIN, SERVICE, now=1700000000.5)

    key, value = dead_letter.encode(letter)

    assert key == b"vocms0155.cern.ch#1234567.0#1700000000"
    assert orjson.loads(value) == {
        "schema": "spider.dead_letter/1",
        "stage": "converter",
        "reason": "unsupported schema",
        "error_type": "ValueError",
        "original": {
            "topic": "spider.raw.history",
            "partition": 3,
            "offset": 41,
            "key_b64": base64.b64encode(ORIGIN.key).decode(),
            "value_b64": base64.b64encode(ORIGIN.value).decode(),
        },
        "time": 1700000000.5,
        "service": SERVICE,
    }


def test_encoded_record_is_valid_against_the_schema_file():
    origin = Origin(topic="t", partition=0, offset=1, key=None, value=b"\xff\x00", headers=[("schema", b"x")])
    letter = dead_letter.record("sink:es-cms", "mapper_parsing_exception", origin, SERVICE, details={"status": 400})

    jsonschema.validate(orjson.loads(dead_letter.encode(letter)[1]), schemas.load("dead_letter.v1.schema.json"))


def test_decode_restores_the_original_bytes():
    origin = Origin(topic="t", partition=1, offset=7, key=b"k", value=b"\x00\xffnot json", headers=(("h", b"\x01"),))
    letter = dead_letter.record("converter", KeyError("GlobalJobId"), origin, SERVICE, details={"line": 12})

    assert dead_letter.decode(dead_letter.encode(letter)[1]) == letter


@pytest.mark.parametrize("value", [b"nope", b"[]", b'{"schema": "spider.dead_letter/1", "original": 3}'])
def test_decode_rejects_other_messages(value):
    with pytest.raises(MalformedDeadLetter):
        dead_letter.decode(value)


def test_record_over_the_size_limit_keeps_the_start_of_the_original_marked_as_cut():
    original = bytes(range(256)) * 12_000  # 3 MB of raw message, 4 MB once base64-encoded
    origin = Origin(
        topic="spider.raw.history", partition=5, offset=912, key=b"crab3@vocms0122.cern.ch#7.0#1", value=original
    )
    letter = dead_letter.record("converter", "document of 9.1 MiB exceeds the 8.0 MiB limit", origin, SERVICE)

    key, value = dead_letter.encode(letter, max_bytes=1_000_000)
    back = dead_letter.decode(value)

    assert len(value) <= 1_000_000
    assert key == origin.key
    assert (back.origin.topic, back.origin.partition, back.origin.offset) == ("spider.raw.history", 5, 912)
    assert back.cut
    kept = back.details["original_cut"]["kept_bytes"]
    assert back.details["original_cut"]["value_bytes"] == len(original)
    assert 900_000 * 3 // 4 < kept < 1_000_000 * 3 // 4
    assert back.origin.value == original[:kept]
    jsonschema.validate(orjson.loads(value), schemas.load("dead_letter.v1.schema.json"))


def test_record_within_the_size_limit_is_left_whole():
    letter = dead_letter.record("converter", "conversion_error", ORIGIN, SERVICE, now=1700000000.5)

    assert dead_letter.encode(letter, max_bytes=10_000) == dead_letter.encode(letter)
    assert not dead_letter.decode(dead_letter.encode(letter, max_bytes=10_000)[1]).cut
