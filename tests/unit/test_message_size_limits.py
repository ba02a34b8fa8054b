"""The message size limits of the config, and the Kafka settings that follow from them: a message one service may
write, the topic takes and the next service reads whole."""

from __future__ import annotations

from services.common.config import MIB, KafkaSettings
from services.common.topics import TopicSpec

LIMITED = ("raw.queue", "raw.history", "docs.queue", "docs.history", "dlq.converter", "dlq.sinks")


def test_raw_document_and_dead_letter_topics_get_their_limit_as_max_message_bytes_and_the_checkpoints_none():
    kafka = KafkaSettings(message_size={"raw_mb": 12, "docs_mb": 8, "dead_letter_mb": 20})

    sizes = {spec.name: spec.kafka_config().get("max.message.bytes") for spec in kafka.topic_specs()}

    assert {name: sizes[name] for name in (*LIMITED, "checkpoints")} == {
        "raw.queue": str(12 * MIB + 12 * MIB // 16),
        "raw.history": str(12 * MIB + 12 * MIB // 16),
        "docs.queue": str(8 * MIB + 8 * MIB // 16),
        "docs.history": str(8 * MIB + 8 * MIB // 16),
        "dlq.converter": str(20 * MIB + 20 * MIB // 16),
        "dlq.sinks": str(20 * MIB + 20 * MIB // 16),
        "checkpoints": None,
    }


def test_limits_and_retention_apply_together():
    kafka = KafkaSettings(message_size={"docs_mb": 4}, retention={"docs_days": 3})

    docs = next(spec for spec in kafka.topic_specs() if spec.name == "docs.history")

    assert docs.kafka_config() == {
        "retention.ms": str(3 * 86_400_000),
        "max.message.bytes": str(4 * MIB + 4 * MIB // 16),
        "cleanup.policy": "delete",
    }


def test_a_producer_or_consumer_of_several_topics_takes_the_largest_of_their_limits():
    kafka = KafkaSettings(message_size={"raw_mb": 12, "docs_mb": 8, "dead_letter_mb": 0.5})

    assert kafka.message_bytes("docs.queue", "docs.history", "dlq.converter") == 8 * MIB + 8 * MIB // 16
    assert kafka.message_bytes("raw.queue", "raw.history") == 12 * MIB + 12 * MIB // 16


def test_a_default_raw_topic_takes_an_ad_of_ten_megabytes_and_its_dead_letter_fits_the_dead_letter_topic():
    kafka = KafkaSettings()
    raw = kafka.message_size.limit("raw.history")
    dead_letter = kafka.message_size.limit("dlq.converter")

    assert raw >= 10_000_000 + 100_000  # the ad and its envelope
    assert dead_letter >= raw * 4 // 3 + 100_000  # base64 of the whole raw message, and the record around it


def test_topic_spec_without_a_limit_leaves_max_message_bytes_to_the_broker():
    assert "max.message.bytes" not in TopicSpec("checkpoints", "per-schedd checkpoints", compacted=True).kafka_config()
