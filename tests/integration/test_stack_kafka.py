"""Kafka of the local stack: a record produced to a project-created topic is consumed back unchanged."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, KafkaError, Producer

pytestmark = pytest.mark.integration


def test_a_produced_record_is_consumed_back_with_its_key_and_value(stack, kafka_topic, unique):
    topic = kafka_topic("raw")
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap})
    producer.produce(topic, key=b"vocms0199.cern.ch#123.0", value=b'{"ClusterId": 123, "JobStatus": 2}')
    assert producer.flush(30) == 0

    consumer = Consumer(
        {"bootstrap.servers": stack.kafka_bootstrap, "group.id": f"g-{unique}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    try:
        message = None
        for _ in range(30):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                break
        assert message is not None and message.error() is None
        assert (message.key(), message.value()) == (b"vocms0199.cern.ch#123.0", b'{"ClusterId": 123, "JobStatus": 2}')
    finally:
        consumer.close()


def test_topics_are_not_created_by_producing_to_them(stack, kafka_admin, unique):
    topic = f"t-{unique}.never-created"
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap, "message.timeout.ms": 3000})
    errors = []
    producer.produce(topic, value=b"x", on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(10)

    assert errors and errors[0].code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._MSG_TIMED_OUT)
    assert topic not in kafka_admin.list_topics(timeout=10).topics
