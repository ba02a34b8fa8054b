"""The reference's checkpoint.json format, read for import and written for export/backup."""

from __future__ import annotations

import json

import pytest

from services.collector.checkpoints import decode, dump_reference, encode, read_reference
from services.common.errors import ConfigError

REFERENCE = {"vocms0250.cern.ch": 1732459400, "crab3@vocms0155.cern.ch": 1732455812.52}


def test_reference_checkpoint_json_is_imported_as_is(tmp_path):
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(REFERENCE))
    assert read_reference(path) == REFERENCE


def test_export_is_the_reference_format_with_sorted_names():
    text = dump_reference(REFERENCE)
    assert json.loads(text) == REFERENCE
    assert list(json.loads(text)) == ["crab3@vocms0155.cern.ch", "vocms0250.cern.ch"]


def test_export_then_import_gives_the_same_checkpoints(tmp_path):
    path = tmp_path / "backup.json"
    path.write_bytes(dump_reference(REFERENCE))
    assert read_reference(path) == REFERENCE


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('["vocms0250.cern.ch"]', "expected an object"),
        ('{"vocms0250.cern.ch": "yesterday"}', "'vocms0250.cern.ch' is not epoch seconds"),
        ('{"vocms0250.cern.ch": true}', "is not epoch seconds"),
        ('{"vocms0250.cern.ch": -5}', "is not epoch seconds"),
        ('{"vocms0250.cern.ch": 17324', "malformed JSON"),
    ],
)
def test_malformed_checkpoint_json_is_refused_with_the_reason(tmp_path, content, problem):
    path = tmp_path / "checkpoint.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=problem):
        read_reference(path)


def test_kafka_record_is_keyed_by_schedd_and_carries_the_checkpoint():
    key, value = encode("vocms0250.cern.ch", 1732459400, now=1732460000.0)
    assert key == b"vocms0250.cern.ch"
    assert json.loads(value)["checkpoint"] == 1732459400
    assert decode(value) == 1732459400


def test_tombstone_and_unreadable_records_give_no_checkpoint():
    assert decode(None) is None
    assert decode(b"not json") is None
