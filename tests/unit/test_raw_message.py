"""The raw ad envelope: what the collector writes is exactly what the converter reads back."""

from __future__ import annotations

import classad2
import jsonschema
import orjson
import pytest

import schemas
from services.common import raw_message

IDENTITY = {"version": "0.1.0", "git_hash": "abc123", "host": "collector-1.cern.ch"}
AD_TEXT = """\
GlobalJobId = "vocms0155.cern.ch#1234.0#1732480000"
ClusterId = 1234
ProcId = 0
JobStatus = 2
RequestCpus = 4
RequestMemory = ifthenelse(MemoryUsage =!= undefined, MemoryUsage, 2000 * RequestCpus)
MemoryUsage = undefined
LastRejMatchReason = error
DESIRED_Sites = "T2_CH_CERN,T1_US_FNAL"
CpuEff = 0.85
WantIOProxy = true
"""


def encoded(**overrides):
    ad = classad2.parseOne(AD_TEXT, classad2.ParserType.Old)
    kwargs = dict(source="condor_queue", pool="Global", schedd="vocms0155.cern.ch", collected_at=1732480123.5)
    kwargs.update(overrides)
    return raw_message.encode(ad, identity=IDENTITY, **kwargs)


def test_key_is_the_global_job_id():
    key, _ = encoded()
    assert key == b"vocms0155.cern.ch#1234.0#1732480000"


def test_message_is_one_line_so_captures_can_be_ndjson():
    _, value = encoded()
    assert b"\n" not in value


def test_envelope_validates_against_the_published_schema():
    _, value = encoded(snapshot_id="vocms0155.cern.ch/1732480123", snapshot_time=1732480120.0)
    jsonschema.validate(orjson.loads(value), schemas.load("raw_ad.v1.schema.json"))


def test_literals_expressions_undefined_and_error_survive_the_round_trip():
    _, value = encoded()
    raw = raw_message.decode(value)
    assert raw.ad["RequestCpus"] == 4
    assert raw.ad["CpuEff"] == 0.85
    assert raw.ad["WantIOProxy"] is True
    assert raw.ad["MemoryUsage"] is None
    assert raw_message.is_expression(raw.ad["LastRejMatchReason"])
    assert raw_message.expression_text(raw.ad["LastRejMatchReason"]) == "error"
    assert raw_message.is_expression(raw.ad["RequestMemory"])


def test_expressions_evaluate_after_the_round_trip():
    _, value = encoded()
    ad = raw_message.json_to_classad(raw_message.decode(value).ad)
    assert ad.eval("RequestMemory") == 8000
    assert ad.eval("LastRejMatchReason") == classad2.Value.Error


def test_envelope_fields_are_read_back():
    _, value = encoded(snapshot_id="snap-1", snapshot_time=1732480120.0)
    raw = raw_message.decode(value)
    assert (raw.source, raw.pool, raw.schedd, raw.collected_at) == (
        "condor_queue",
        "Global",
        "vocms0155.cern.ch",
        1732480123.5,
    )
    assert (raw.snapshot_id, raw.snapshot_time, raw.collector) == ("snap-1", 1732480120.0, IDENTITY)
    assert raw.global_job_id == "vocms0155.cern.ch#1234.0#1732480000"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\x00\xff not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"schema": "spider.raw_ad/99", "ad": {}}', "unsupported schema"),
        (b'{"schema": "spider.raw_ad/1", "source": "file", "collected_at": 1, "ad": "x"}', "'ad' is not an object"),
        (b'{"schema": "spider.raw_ad/1", "source": "file", "collected_at": "now", "ad": {}}', "'collected_at'"),
        (b'{"schema": "spider.raw_ad/1", "source": "tape", "collected_at": 1, "ad": {}}', "unknown source"),
        (
            b'{"schema": "spider.raw_ad/1", "source": "file", "collected_at": 1, "ad": {}, "snapshot": [1]}',
            "'snapshot'",
        ),
    ],
)
def test_anything_but_an_envelope_is_rejected_with_its_reason(value, reason):
    with pytest.raises(raw_message.MalformedMessage, match=reason):
        raw_message.decode(value)
