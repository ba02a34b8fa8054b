"""Small Kafka helpers for integration tests: private topics, producing with set timestamps, consuming M."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from deploy.local.config import load_stack_config
from services.common import topics
from services.common.config import KafkaSettings

STACK = load_stack_config()
BOOTSTRAP = STACK.endpoints()["kafka"]


def private_kafka() -> KafkaSettings:
    """The stack's Kafka (or SPIDER_KAFKA__BOOTSTRAP_SERVERS) with a topic prefix of this test only."""
    return KafkaSettings(bootstrap_servers=BOOTSTRAP, topic_prefix=f"t-{uuid.uuid4().hex[:8]}.")


def create_topics(kafka: KafkaSettings, names: list[str], partitions: int) -> list[str]:
    admin = AdminClient(kafka.client_config())
    full = [kafka.topic(n) for n in names]
    futures = admin.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=1) for t in full])
    for future in futures.values():
        future.result(timeout=30)
    return full


def delete_topics(kafka: KafkaSettings, topics: list[str]) -> None:
    admin = AdminClient(kafka.client_config())
    for future in admin.delete_topics(topics).values():
        future.result(timeout=30)


def produce(kafka: KafkaSettings, topic: str, partition: int, timestamps_ms: list[int]) -> None:
    producer = Producer(kafka.client_config())
    for i, ts in enumerate(timestamps_ms):
        producer.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), partition=partition, timestamp=ts)
    assert producer.flush(30) == 0


def consume_and_commit(kafka: KafkaSettings, group: str, topic: str, partition: int, count: int) -> None:
    """Read `count` messages from the start of one partition as `group` and commit after them."""
    consumer = Consumer({**kafka.client_config(), "group.id": group, "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, partition, 0)])
    read = 0
    deadline = time.monotonic() + 30
    while read < count and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            read += 1
    assert read == count
    consumer.commit(offsets=[TopicPartition(topic, partition, count)], asynchronous=False)
    consumer.close()


def joined_consumer(kafka: KafkaSettings, group: str, topics: list[str]) -> Consumer:
    """A consumer that subscribed and got its partitions: the group has an active member until it closes."""
    assigned: list[TopicPartition] = []
    consumer = Consumer({**kafka.client_config(), "group.id": group, "session.timeout.ms": 10000})
    consumer.subscribe(topics, on_assign=lambda _c, parts: assigned.extend(parts))
    deadline = time.monotonic() + 30
    while not assigned and time.monotonic() < deadline:
        consumer.poll(0.2)
    assert assigned, "the consumer never joined its group"
    return consumer


@contextmanager
def sink_topics(partitions: int) -> Iterator[KafkaSettings]:
    """A private topic prefix holding the sinks' input and dead-letter topics, deleted afterwards."""
    kafka = private_kafka()
    names = create_topics(kafka, [topics.DOCS_QUEUE, topics.DOCS_HISTORY, topics.DLQ_SINKS], partitions)
    yield kafka
    delete_topics(kafka, names)
