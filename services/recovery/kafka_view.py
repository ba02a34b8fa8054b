"""The Kafka questions the operator tools ask: groups, members, committed and end offsets, timestamps.

Every call goes through the AdminClient with a timeout, so an unreachable broker gives one clear error
instead of a hang: the view first checks within a few seconds that a broker answers, then waits (bounded) for a
group coordinator, and every group request is sent again while the coordinator is starting or moving.
Messages are read with a throwaway consumer that only `assign`s, so it never joins or commits for any group.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TypeVar

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka.admin import OffsetSpec

from services.common import kafka as kafka_clients
from services.common.config import KafkaSettings
from services.common.errors import SpiderError

TP = tuple[str, int]
T = TypeVar("T")


@dataclass(frozen=True)
class Member:
    client_id: str
    host: str

    def __str__(self) -> str:
        return f"{self.client_id} on {self.host.lstrip('/')}"


@dataclass(frozen=True)
class Found:
    """Answer of a by-time offset lookup: offset -1 means no message at or after the time."""

    offset: int
    timestamp_ms: int


class KafkaView:
    def __init__(self, kafka: KafkaSettings, timeout_s: float = 15.0) -> None:
        self.kafka = kafka
        self.timeout_s = timeout_s
        self.admin = kafka_clients.admin(kafka, {"socket.connection.setup.timeout.ms": 2000})
        kafka_clients.ready(self.admin, kafka, max(timeout_s, 30.0), reach_s=kafka_clients.REACH_S)

    def _failed(self, what: str, exc: KafkaException) -> SpiderError:
        return SpiderError(f"Kafka at {self.kafka.bootstrap_servers}: {what} failed: {exc.args[0].str()}")

    def _wait(self, future: Future[T], what: str) -> T:
        try:
            return kafka_clients.wait(self.admin, future, self.timeout_s)
        except KafkaException as exc:
            raise self._failed(what, exc) from None
        except TimeoutError:
            raise SpiderError(f"Kafka at {self.kafka.bootstrap_servers}: {what} timed out") from None

    def _group(self, request: Callable[[], Future[T]], what: str) -> T:
        """A request the group coordinator answers, sent again while it is starting or moving."""
        try:
            return kafka_clients.coordinated(self.admin, self.kafka, request, what, self.timeout_s)
        except KafkaException as exc:
            raise self._failed(what, exc) from None

    def groups(self) -> list[str]:
        listed = self._group(lambda: self.admin.list_consumer_groups(request_timeout=self.timeout_s), "listing groups")
        return sorted(g.group_id for g in listed.valid)

    def members(self, group: str) -> list[Member]:
        described = self._group(
            lambda: self.admin.describe_consumer_groups([group], request_timeout=self.timeout_s)[group],
            f"describing group {group}",
        )
        return [Member(m.client_id, m.host) for m in described.members]

    def partitions(self, topics: Iterable[str]) -> list[TP]:
        """Partitions of the topics that exist, sorted; unknown topics are skipped."""
        try:
            metadata = self.admin.list_topics(timeout=self.timeout_s)
        except KafkaException as exc:
            raise SpiderError(f"Kafka at {self.kafka.bootstrap_servers}: {exc.args[0].str()}") from None
        found = []
        for topic in topics:
            meta = metadata.topics.get(topic)
            if meta is not None and meta.error is None:
                found.extend((topic, p) for p in meta.partitions)
        return sorted(found)

    def _list_offsets(self, specs: dict[TP, OffsetSpec], what: str) -> dict[TP, Found]:
        if not specs:
            return {}
        request = {TopicPartition(t, p): spec for (t, p), spec in specs.items()}
        futures = self.admin.list_offsets(request, request_timeout=self.timeout_s)
        out = {}
        for tp, future in futures.items():
            info = self._wait(future, what)
            out[(tp.topic, tp.partition)] = Found(info.offset, info.timestamp)
        return out

    def watermarks(self, tps: Iterable[TP]) -> dict[TP, tuple[int, int]]:
        """(earliest offset still kept, end offset) per partition."""
        tps = list(tps)
        low = self._list_offsets({tp: OffsetSpec.earliest() for tp in tps}, "reading earliest offsets")
        high = self._list_offsets({tp: OffsetSpec.latest() for tp in tps}, "reading end offsets")
        return {tp: (low[tp].offset, high[tp].offset) for tp in tps}

    def offsets_for_time(self, tps: Iterable[TP], timestamp_ms: int) -> dict[TP, Found]:
        """First offset whose timestamp is >= the time, per partition (Kafka's ListOffsets by timestamp)."""
        spec = {tp: OffsetSpec.for_timestamp(timestamp_ms) for tp in tps}
        return self._list_offsets(spec, "looking up offsets by time")

    def committed(self, group: str) -> dict[TP, int]:
        """The group's committed offsets (next offset to consume), for every partition it ever committed."""
        request = [ConsumerGroupTopicPartitions(group)]
        result = self._group(
            lambda: self.admin.list_consumer_group_offsets(request, request_timeout=self.timeout_s)[group],
            f"reading committed offsets of {group}",
        )
        return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions if tp.offset >= 0}

    def commit(self, group: str, offsets: dict[TP, int]) -> None:
        """Set the group's offsets; Kafka itself refuses this while the group has members."""
        tps = [TopicPartition(t, p, o) for (t, p), o in sorted(offsets.items())]
        request = [ConsumerGroupTopicPartitions(group, tps)]
        result = self._group(
            lambda: self.admin.alter_consumer_group_offsets(request, request_timeout=self.timeout_s)[group],
            f"moving offsets of {group}",
        )
        failed = [f"{tp.topic}:{tp.partition} ({tp.error.str()})" for tp in result.topic_partitions if tp.error]
        if failed:
            raise SpiderError(f"Kafka refused to move offsets of {group}: {', '.join(failed)}")

    def _reader(self) -> Consumer:
        """A consumer that only `assign`s: it never joins or commits for any group."""
        return kafka_clients.reader(self.kafka, "spider-tools")

    def timestamps_at(self, positions: dict[TP, int]) -> dict[TP, int]:
        """Timestamp (ms) of the first message at or after each position; partitions with none are left out."""
        if not positions:
            return {}
        consumer = self._reader()
        found: dict[TP, int] = {}
        pending = set(positions)
        try:
            consumer.assign([TopicPartition(t, p, o) for (t, p), o in positions.items()])
            deadline = time.monotonic() + self.timeout_s
            while pending and time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is None:
                    continue
                tp = (msg.topic(), msg.partition())
                error = msg.error()
                if tp not in pending or (error is not None and error.code() != KafkaError._PARTITION_EOF):
                    continue
                if error is None:
                    found[tp] = msg.timestamp()[1]
                pending.discard(tp)
        finally:
            consumer.close()
        return found

    def read(self, ranges: dict[TP, tuple[int, int]]) -> Iterator[Message]:
        """Every message from `start` to before `end` of each partition, in offset order per partition. A read
        that gets nothing for `timeout_s` while messages are still due fails with a SpiderError."""
        pending = {tp: end for tp, (start, end) in ranges.items() if start < end}
        if not pending:
            return
        consumer = self._reader()
        try:
            consumer.assign([TopicPartition(t, p, ranges[(t, p)][0]) for t, p in pending])
            last_progress = time.monotonic()
            while pending:
                batch = consumer.consume(500, 0.5)
                if not batch and time.monotonic() - last_progress > self.timeout_s:
                    left = ", ".join(f"{t}:{p}" for t, p in sorted(pending))
                    raise SpiderError(f"Kafka at {self.kafka.bootstrap_servers}: reading {left} timed out")
                for msg in batch:
                    last_progress = time.monotonic()
                    tp = (msg.topic(), msg.partition())
                    error = msg.error()
                    if error is not None and error.code() != KafkaError._PARTITION_EOF:
                        raise SpiderError(f"Kafka at {self.kafka.bootstrap_servers}: reading {tp[0]}:{tp[1]}: {error}")
                    end = pending.get(tp)
                    if end is None:
                        continue
                    if error is None and msg.offset() < end:
                        yield msg
                    if error is not None or msg.offset() >= end - 1:
                        del pending[tp]
                        consumer.pause([TopicPartition(*tp)])
        finally:
            consumer.close()
