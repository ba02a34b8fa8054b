"""The converter worker's Kafka clients: what it asks of the broker and how it treats refused outputs."""

from __future__ import annotations

import asyncio

from confluent_kafka import KafkaError, Message

from services.converter.config import ConverterConfig
from services.converter.service import _Resends, build_app


def test_worker_consumer_fetch_wait_is_the_configured_one_not_fausts_1500_ms():
    app = build_app(ConverterConfig(fetch_max_wait_ms=50), lambda: None)

    async def create() -> int:  # aiokafka clients are made inside a running loop; nothing connects here
        return app.consumer._thread._create_worker_consumer(app.transport)._fetch_max_wait_ms

    assert asyncio.run(create()) == 50


def test_refused_outputs_are_kept_whole_for_the_next_send_round():
    delivery = _Resends()
    delivery._sent(2)
    document = Message(topic="spider.docs.history", key=b"crab3@vocms0122.cern.ch#1#1700000000", value=b"{}")
    document.set_headers([("schema", b"document.v1")])
    letter = Message(topic="spider.dlq.converter", key=None, value=b'{"reason": "malformed_envelope"}')

    delivery.report(KafkaError(KafkaError._MSG_TIMED_OUT), document)
    delivery.report(None, letter)

    assert delivery.refused == [
        ("spider.docs.history", b"crab3@vocms0122.cern.ch#1#1700000000", b"{}", [("schema", b"document.v1")])
    ]
    assert (delivery.pending, delivery.delivered, delivery.failed) == (0, 1, 1)
    assert delivery.first_error == "Local: Message timed out"
