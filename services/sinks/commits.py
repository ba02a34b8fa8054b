"""The commit manager of a sink: the offset tracker of each assigned partition, commits and lag.

A partition's offset is committed only up to the lowest offset whose document is not yet written or
dead-lettered (services/sinks/offsets.py), so a crash re-sends at most what was in flight. A tracker's
`committed` moves only when Kafka confirms (the commit callback, or a synchronous commit's result): an
asynchronous commit that fails is sent again by the next periodic commit and by the synchronous one at revoke
and shutdown.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from services.sinks import metrics
from services.sinks.offsets import PartitionOffsets

log = logging.getLogger("services.sinks.runner")

COMMIT_INTERVAL_S = 1.0
LAG_INTERVAL_S = 5.0

# Answers to a commit sent just before the group changed: normal while consumers join or leave, so they are not
# warnings. Kept partitions are committed again under the new generation; revoked ones resume, at their new
# owner, from their last confirmed commit (documents are written again under the same ids).
REBALANCED = frozenset({KafkaError.ILLEGAL_GENERATION, KafkaError.REBALANCE_IN_PROGRESS, KafkaError.UNKNOWN_MEMBER_ID})

TP = tuple[str, int]


class CommitManager:
    """The trackers of the partitions this sink owns; `consumer` is set once it exists (its `on_commit` is
    `self.on_commit`)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.trackers: dict[TP, PartitionOffsets] = {}
        self.consumer: Consumer | None = None
        self._last_commit = 0.0
        self._last_lag = 0.0

    def tracker(self, topic: str, partition: int) -> PartitionOffsets:
        """The tracker of a partition, made on its first message."""
        tracker = self.trackers.get((topic, partition))
        if tracker is None:
            tracker = self.trackers[(topic, partition)] = PartitionOffsets()
        return tracker

    def owns(self, topic: str, partition: int, tracker: PartitionOffsets) -> bool:
        """Whether the partition is still ours with this tracker (not revoked since the message was consumed)."""
        return self.trackers.get((topic, partition)) is tracker

    def assigned(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.trackers[(tp.topic, tp.partition)] = PartitionOffsets()

    def forget(self, gone: set[TP]) -> None:
        for tp in gone:
            self.trackers.pop(tp, None)

    def tick(self) -> None:
        """The periodic asynchronous commit and lag update."""
        now = time.monotonic()
        if now - self._last_commit >= COMMIT_INTERVAL_S:
            self.commit(asynchronous=True)
        if now - self._last_lag >= LAG_INTERVAL_S:
            self.update_lag()

    def commit(self, asynchronous: bool, only: set[TP] | None = None) -> None:
        """Commit every acknowledged prefix Kafka has not confirmed yet."""
        assert self.consumer is not None
        self._last_commit = time.monotonic()
        offsets = self.uncommitted(only)
        if not offsets:
            return
        try:
            result = self.consumer.commit(offsets=offsets, asynchronous=asynchronous)
        except KafkaException as exc:
            self._failed(exc.args[0] if exc.args else exc)
            return
        if not asynchronous:
            self._confirmed(result or [])

    def uncommitted(self, only: set[TP] | None = None) -> list[TopicPartition]:
        """Commit positions of the (selected) partitions whose acknowledged prefix is past the confirmed commit."""
        offsets = []
        for (topic, partition), tracker in self.trackers.items():
            if only is not None and (topic, partition) not in only:
                continue
            position = tracker.committable()
            if position is not None:
                offsets.append(TopicPartition(topic, partition, position))
        return offsets

    def on_commit(self, err: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """Kafka's answer to a commit (called from the consumer's poll, in the runner thread)."""
        if err is not None:
            self._failed(err)
            return
        self._confirmed(partitions)

    def _failed(self, err: object) -> None:
        rebalanced = isinstance(err, KafkaError) and err.code() in REBALANCED
        level = logging.INFO if rebalanced else logging.WARNING
        log.log(level, "offset commit failed, will retry: %s", err, extra={"target": self.target})

    def _confirmed(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            if tp.error is not None:
                log.warning(
                    "offset commit of %s[%d] failed, will retry: %s",
                    tp.topic,
                    tp.partition,
                    tp.error,
                    extra={"target": self.target},
                )
                continue
            tracker = self.trackers.get((tp.topic, tp.partition))
            if tracker is not None and tp.offset >= 0:
                tracker.mark_committed(tp.offset)

    def update_lag(self) -> None:
        assert self.consumer is not None
        self._last_lag = time.monotonic()
        per_topic: dict[str, int] = {}
        for (topic, partition), tracker in list(self.trackers.items()):
            try:
                _low, high = self.consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
            except KafkaException:
                continue
            if high < 0 or tracker.committed is None:
                continue
            per_topic[topic] = per_topic.get(topic, 0) + max(0, high - tracker.committed)
        for topic, lag in per_topic.items():
            metrics.LAG.labels(topic, self.target).set(lag)
