"""Realistic CMS ads (tests/data/ads) converted end to end: bytes as published -> full document."""

from __future__ import annotations

import golden
import orjson
import pytest


@pytest.mark.parametrize("name", golden.names())
def test_document_matches_expected(name: str) -> None:
    expected = orjson.loads((golden.EXPECTED / f"{name}.json").read_bytes())
    assert golden.as_json(golden.converted(name)) == expected


@pytest.mark.parametrize("name", golden.names())
def test_converting_the_same_message_twice_gives_identical_bytes(name: str) -> None:
    first, second = golden.converted(name), golden.converted(name)
    assert orjson.dumps(first.body) == orjson.dumps(second.body)
    assert first.id == second.id
