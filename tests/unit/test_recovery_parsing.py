"""Operator input of the recovery tools: times, offsets, group names, purge queries, topic retention."""

from datetime import UTC, datetime

import pytest

from services.common.config import KafkaSettings
from services.common.groups import GroupNames
from services.recovery.purge import monit_request, query
from services.recovery.replay import parse_offsets
from services.recovery.timepoints import iso, parse_time


@pytest.mark.parametrize(
    "text",
    ["2025-01-31T12:00:00Z", "2025-01-31T13:00:00+01:00", "2025-01-31 12:00", "1738324800", "1738324800.0"],
)
def test_times_are_iso_8601_or_epoch_seconds_in_utc(text):
    assert parse_time(text) == datetime(2025, 1, 31, 12, 0, tzinfo=UTC)


def test_times_are_shown_with_their_milliseconds_when_they_have_some():
    assert iso(parse_time("1738324800.125")) == "2025-01-31T12:00:00.125Z"
    assert iso(parse_time("1738324800")) == "2025-01-31T12:00:00Z"


def test_an_unreadable_time_says_which_formats_work():
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_time("yesterday")


def test_offsets_are_topic_partition_offset_triples():
    assert parse_offsets("spider.raw.queue:0:120, spider.raw.queue:3:7,raw.history:1:0") == {
        ("spider.raw.queue", 0): 120,
        ("spider.raw.queue", 3): 7,
        ("raw.history", 1): 0,
    }


@pytest.mark.parametrize("text", ["spider.raw.queue:0", "spider.raw.queue:x:1", ":0:1", "t:0:-5", ""])
def test_malformed_offsets_are_refused(text):
    with pytest.raises(ValueError):
        parse_offsets(text)


def test_group_names_follow_the_converter_and_sink_settings():
    names = GroupNames(KafkaSettings(topic_prefix="cms."), converter="cms-converter", sink_prefix="cms-sink")
    assert names.sink("es-cms") == "cms-sink-es-cms"
    assert names.role("cms-converter") == "converter"
    assert names.role("cms-sink-amq") == "sink"
    assert names.role("cms-sink-") is None
    assert names.role("someone-else") is None
    assert names.input_topics("cms-converter") == ("cms.raw.queue", "cms.raw.history")
    assert names.input_topics("cms-sink-amq") == ("cms.docs.queue", "cms.docs.history")


def test_purge_query_selects_the_hash_and_narrows_by_record_time():
    since = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)
    assert query("abc123") == {"bool": {"filter": [{"term": {"metadata.spider_git_hash": "abc123"}}]}}
    assert query("abc123", since)["bool"]["filter"][1] == {
        "range": {"RecordTime": {"gte": 1738324800, "format": "epoch_second"}}
    }


def test_monit_request_uses_monit_field_names_and_milliseconds():
    text = monit_request("abc123", datetime(2025, 1, 31, 12, 0, tzinfo=UTC))
    assert "monit_prod_condor_raw_metrics*" in text
    assert '"data.metadata.spider_git_hash": "abc123"' in text
    assert '"gte": 1738324800000' in text


def test_retention_is_configurable_per_kind_of_topic():
    specs = {s.name: s for s in KafkaSettings(retention={"raw_days": 14, "docs_days": 3}).topic_specs()}
    assert specs["raw.queue"].kafka_config()["retention.ms"] == str(14 * 86_400_000)
    assert specs["raw.history"].retention_ms == 14 * 86_400_000
    assert specs["docs.queue"].retention_ms == 3 * 86_400_000
    assert specs["dlq.sinks"].retention_ms == 30 * 86_400_000
    assert specs["checkpoints"].kafka_config() == {"retention.ms": "-1", "cleanup.policy": "compact"}


def test_default_retention_keeps_raw_topics_a_week():
    specs = {s.name: s for s in KafkaSettings().topic_specs()}
    assert specs["raw.queue"].retention_ms == specs["raw.history"].retention_ms == 7 * 86_400_000
