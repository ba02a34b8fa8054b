"""The converter worker's Kafka side: what it asks of the broker, outputs over their size limit, refused outputs,
and the counts of what became of the input."""

from __future__ import annotations

import asyncio
import logging

from confluent_kafka import KafkaError, Message

from services.common import dead_letter
from services.common.config import MIB, KafkaSettings
from services.common.dead_letter import Origin
from services.converter.config import ConverterConfig
from services.converter.service import Counts, Output, Routes, _Round, build_app


def test_worker_consumer_fetch_wait_is_the_configured_one_not_fausts_1500_ms():
    app = build_app(ConverterConfig(fetch_max_wait_ms=50), lambda: None)

    async def create() -> int:  # aiokafka clients are made inside a running loop; nothing connects here
        return app.consumer._thread._create_worker_consumer(app.transport)._fetch_max_wait_ms

    assert asyncio.run(create()) == 50


def test_worker_consumer_fetches_a_whole_raw_message_of_the_largest_allowed_size():
    cfg = ConverterConfig(kafka={"message_size": {"raw_mb": 12}})
    app = build_app(cfg, lambda: None)

    async def create() -> int:
        return app.consumer._thread._create_worker_consumer(app.transport)._max_partition_fetch_bytes

    assert asyncio.run(create()) == 12 * MIB + 12 * MIB // 16


def _output(topic: str, value: bytes, reason: str | None = None) -> Output:
    origin = Origin("spider.raw.history", 2, 17, b"crab3@vocms0122.cern.ch#1#1700000000", b'{"ad": {}}')
    return Output(topic, origin.key, value, [("schema", b"spider.document/1")], origin, reason)


def test_delivery_reports_are_sorted_into_delivered_refused_for_good_and_to_retry():
    sent = _Round()
    delivered, too_large, timed_out = (_output("spider.docs.history", b"{}") for _ in range(3))
    for out, err in (
        (delivered, None),
        (too_large, KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)),
        (timed_out, KafkaError(KafkaError._MSG_TIMED_OUT)),
    ):
        sent.add()
        sent.reporter(out)(err, Message(topic=out.topic, key=out.key, value=out.value))

    assert sent.acknowledged == [delivered]
    assert [(out, err.code()) for out, err in sent.refused] == [(too_large, KafkaError.MSG_SIZE_TOO_LARGE)]
    assert [(out, err.code()) for out, err in sent.retry] == [(timed_out, KafkaError._MSG_TIMED_OUT)]
    assert (sent.pending, sent.failed) == (0, 2)


def test_document_over_its_topic_limit_becomes_a_dead_letter_that_names_the_sizes_and_keeps_the_raw_message():
    routes = Routes(KafkaSettings(message_size={"docs_mb": 8}))
    document = _output("spider.docs.history", b'{"Environment": "' + b"x" * (9 * MIB) + b'"}')

    out = routes.fitted(document)
    letter = dead_letter.decode(out.value)

    assert (out.topic, out.reason) == ("spider.dlq.converter", "too_large")
    assert letter.reason == "document of 9.0 MiB exceeds the 8.0 MiB limit of spider.docs.history"
    assert letter.error_type == "MessageTooLarge"
    assert letter.origin == document.origin
    assert not letter.cut


def test_document_within_its_topic_limit_is_sent_as_it_is():
    routes = Routes(KafkaSettings())
    document = _output("spider.docs.queue", b'{"Environment": "' + b"x" * (7 * MIB) + b'"}')

    assert routes.fitted(document) is document


def test_dead_letter_over_its_topic_limit_keeps_only_the_start_of_the_raw_message():
    routes = Routes(KafkaSettings(message_size={"dead_letter_mb": 2}))
    raw = Origin("spider.raw.history", 0, 3, b"k", b'{"ad": {"Env": "' + b"y" * 3 * MIB + b'"}}')
    letter = dead_letter.record("converter", "conversion_error", raw, {"name": "converter"})
    _key, value = dead_letter.encode(letter)

    out = routes.fitted(Output("spider.dlq.converter", b"k", value, None, raw, "conversion_error"))
    back = dead_letter.decode(out.value)

    assert len(out.value) <= 2 * MIB
    assert back.cut and back.origin.offset == 3
    assert raw.value.startswith(back.origin.value)


def test_document_kafka_refused_becomes_a_dead_letter_naming_the_error():
    routes = Routes(KafkaSettings())
    document = _output("spider.docs.history", b"{}")

    out = routes.refused(document, KafkaError(KafkaError.MSG_SIZE_TOO_LARGE, "Broker: Message size too large"))

    assert (out.topic, out.reason) == ("spider.dlq.converter", "refused_by_kafka")
    assert dead_letter.decode(out.value).reason == (
        "Kafka refused the document for spider.docs.history: Broker: Message size too large (MSG_SIZE_TOO_LARGE)"
    )


def test_summary_line_counts_converted_dropped_and_dead_lettered_by_reason_then_starts_again(caplog):
    counts = Counts()
    counts.delivered(
        [_output("spider.docs.history", b"{}")] * 3 + [_output("spider.dlq.converter", b"{}", "too_large")]
    )
    counts.dropped_ads("spider.raw.history", "root_task", 2)

    with caplog.at_level(logging.INFO, logger="services.converter.service"):
        counts.log_summary(60)
        counts.log_summary(60)

    first, second = caplog.records
    assert (
        first.getMessage()
        == "last 60 s: 3 converted, 2 dropped on purpose (root_task 2), 1 dead-lettered (too_large 1)"
    )
    assert (first.converted, first.dropped, first.dead_lettered) == (3, {"root_task": 2}, {"too_large": 1})
    assert second.getMessage() == "last 60 s: 0 converted, 0 dropped on purpose, 0 dead-lettered"
