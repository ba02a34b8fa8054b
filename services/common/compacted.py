"""A compacted Kafka topic used as a small key -> value table (checkpoints, purged releases).

Kafka keeps the latest record per key, so reading the topic from its beginning to its end gives the whole
table; a record with no value (a tombstone) deletes its key. Writes return only once Kafka acknowledged them,
so a caller that goes on (advancing a checkpoint, deleting purged documents) knows the table holds them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition

from services.common import kafka as kafka_clients
from services.common.config import KafkaSettings
from services.common.errors import SpiderError


class CompactedTopicError(SpiderError):
    """The table's topic could not be read or written (it names the topic and the cause)."""


class MissingTopic(CompactedTopicError):
    """The topic does not exist (`spider topics create` makes it)."""


class CompactedTable:
    """Read to the end with `read`, then optionally kept current with `follow` (non-blocking polls)."""

    def __init__(self, kafka: KafkaSettings, topic: str, timeout_s: float = 30.0) -> None:
        self.kafka = kafka
        self.topic = topic
        self.timeout_s = timeout_s
        self.rows: dict[str, bytes] = {}
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None

    def read(self) -> dict[str, bytes]:
        """The whole table, read from the beginning; retried while a new topic's leader is elected."""
        self.close_consumer()
        self._consumer = kafka_clients.reader(self.kafka, "spider-table-reader")
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                self.rows = self._read_all(self._consumer)
                return dict(self.rows)
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                retriable = error.retriable() or error.code() == KafkaError.NOT_LEADER_FOR_PARTITION
                if not retriable or time.monotonic() > deadline:
                    raise CompactedTopicError(f"cannot read {self.topic}: {error.str()}") from None
                time.sleep(0.2)

    def follow(self) -> bool:
        """Apply the records written since the last call, without waiting; True if the table changed."""
        if self._consumer is None:
            return False
        changed = False
        while (msg := self._consumer.poll(0)) is not None:
            if msg.error() is None:
                changed |= self._apply(msg.key(), msg.value())
        return changed

    def write(self, rows: Mapping[str, bytes | None]) -> None:
        """Write rows (None deletes the key) and return once Kafka acknowledged every one."""
        if self._producer is None:
            self._producer = kafka_clients.producer(self.kafka, (), linger_ms=5)
        delivery = kafka_clients.Delivery()
        for key, value in rows.items():
            delivery.add()
            kafka_clients.produce(self._producer, self.topic, key.encode(), value, delivery.report)
        remaining = self._producer.flush(self.timeout_s)
        if remaining or delivery.failed:
            reason = delivery.first_error or f"{remaining} not acknowledged within {self.timeout_s:.0f} s"
            raise CompactedTopicError(f"not stored in {self.topic}: {reason}")

    def close_consumer(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def _apply(self, key: bytes | None, value: bytes | None) -> bool:
        if key is None:
            return False
        name = key.decode("utf-8", "replace")
        if value is None:
            return self.rows.pop(name, None) is not None
        if self.rows.get(name) == value:
            return False
        self.rows[name] = value
        return True

    def _read_all(self, consumer: Consumer) -> dict[str, bytes]:
        metadata = consumer.list_topics(self.topic, timeout=self.timeout_s)
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            if topic is not None and topic.error is not None and topic.error.retriable():
                raise KafkaException(topic.error)
            raise MissingTopic(f"topic {self.topic} does not exist: run `spider topics create`")
        ends = {}
        for partition in topic.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(self.topic, partition), timeout=self.timeout_s)
            if high > low:
                ends[partition] = high
        # Every partition is assigned, the empty ones too, so that `follow` sees what is written later.
        consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in topic.partitions])
        self.rows = {}
        deadline = time.monotonic() + self.timeout_s
        while ends:
            if time.monotonic() > deadline:
                raise CompactedTopicError(f"timed out reading {self.topic}")
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() != KafkaError._PARTITION_EOF:
                    raise CompactedTopicError(f"cannot read {self.topic}: {msg.error().str()}")
                ends.pop(msg.partition(), None)
                continue
            self._apply(msg.key(), msg.value())
            if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                ends.pop(msg.partition(), None)
        return self.rows
