"""The sink runner: Kafka document topics -> one target, without loss and without blocking a partition.

One consumer group per target, so a slow or down target never holds back another. The consumer thread
decodes and batches; a small pool writes batches concurrently. A partition's offset is committed only up to
the lowest offset whose document is not yet written or dead-lettered (services/sinks/offsets.py), so a crash
re-sends at most what was in flight, and targets make that harmless with idempotent writes (document ids).

While the target is unavailable the writers retry forever with jittered exponential backoff and the
consumer pauses its partitions (still polling, so it keeps its group membership); it resumes once a write
succeeds. Rejected and undecodable documents go to the dead-letter topic and are acknowledged after the
dead-letter record is delivered.

The runner orchestrates parts that each do one job: the outage retrier (services/sinks/outage.py), the commit
manager with the offset trackers and lag (commits.py), the dead letters (dead_letters.py), the batcher
(batching.py) and the purged-release skipping (services/common/purged_releases.py).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from prometheus_client import Counter

from services.common import document_message as docmsg
from services.common import kafka as kafka_clients
from services.common import redrive
from services.common.document_message import DocMessage
from services.common.groups import GroupNames
from services.common.purged_releases import PurgedHashes
from services.sinks import metrics
from services.sinks.batching import Batch, Batcher
from services.sinks.commits import CommitManager
from services.sinks.config import SinkConfig
from services.sinks.dead_letters import SinkDeadLetters
from services.sinks.errors import Rejection, TargetUnavailable
from services.sinks.offsets import PartitionOffsets
from services.sinks.outage import OutageRetrier, Stopped

__all__ = ["Initializable", "Rejection", "SinkRunner", "Target", "TargetUnavailable"]

log = logging.getLogger(__name__)

POLL_TIMEOUT_S = 0.1


class Target(Protocol):
    """Where a sink writes. `write` blocks until the target accepted every document it does not return as
    rejected; it raises TargetUnavailable for a retryable whole-batch failure. Called from several threads."""

    name: str
    # Whether `write` reads DocMessage.body; a target that forwards the received bytes says False and the
    # consumer thread skips parsing them (and leaves a value that is not a JSON object to the target to reject).
    parse_body: bool

    def write(self, batch: Sequence[DocMessage]) -> list[Rejection]: ...

    def close(self) -> None: ...


@runtime_checkable
class Initializable(Protocol):
    """A target with set-up to do before the first write (index templates); idempotent, may raise
    TargetUnavailable. `spider sink KIND --init` runs only this."""

    def initialize(self) -> None: ...


@dataclass(slots=True)
class _Item:
    raw: Message
    tracker: PartitionOffsets
    msg: DocMessage | None = None


@dataclass(slots=True)
class _Done:
    items: list[_Item]
    rejections: list[Rejection] = field(default_factory=list)
    written: bool = True


class SinkRunner:
    """Consume the document topics into one target until `stop()`; see the module docstring."""

    def __init__(self, target: Target, config: SinkConfig, *, group_id: str | None = None) -> None:
        self.target = target
        self.config = config
        self.group_id = group_id or GroupNames(config.kafka, sink_prefix=config.consumer_group_prefix).sink(target.name)
        self.topics = [config.kafka.topic(t) for t in config.topics]
        self.dlq_topic = config.kafka.topic(config.dlq_topic)
        self._stop = threading.Event()
        self._done: queue.Queue[_Done] = queue.Queue()
        self._counters: dict[tuple[str, str], Counter] = {}
        self._ready: deque[Batch[_Item]] = deque()
        self._batcher: Batcher[_Item] = Batcher(config.batch_size, config.batch_bytes, config.linger_s)
        self._in_flight = 0
        self._paused = False
        self._consumer: Consumer | None = None
        self._outage = OutageRetrier(target.name, config.backoff_base_s, config.backoff_max_s, config.request_timeout_s)
        self._commits = CommitManager(target.name)
        self._dead_letters: SinkDeadLetters | None = None
        self._purged = PurgedHashes(config.kafka, target.name)

    # -- public -----------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the runner to finish: in-flight batches complete (or give up if the target is down), offsets
        are committed, the consumer leaves its group."""
        self._stop.set()
        self._outage.stop()

    def ready(self) -> bool | str:
        """Readiness for /readyz: not ready while the target is unavailable."""
        return True if not self._outage.down else f"target {self.target.name} unavailable"

    def run(self) -> None:
        self._consumer = kafka_clients.consumer(
            self.config.kafka,
            self.group_id,
            self.config.topics,
            {
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "partition.assignment.strategy": "cooperative-sticky",
                "queued.max.messages.kbytes": 16384,
                "session.timeout.ms": int(self.config.session_timeout_s * 1000),
                "on_commit": self._commits.on_commit,
            },
        )
        self._commits.consumer = self._consumer
        self._dead_letters = SinkDeadLetters(self.config, self.target.name)
        log.info(
            "sink starting",
            extra={"target": self.target.name, "group": self.group_id, "topics": self.topics},
        )
        assert self._dead_letters is not None
        dead_letters = self._dead_letters
        pool = ThreadPoolExecutor(self.config.max_in_flight, thread_name_prefix=f"sink-{self.target.name}")
        self._outage.slow.start()
        try:
            if isinstance(self.target, Initializable):
                self._outage.retry(self.target.initialize, what="installing the index templates")
            self._outage.until(self._purged.try_start)
            self._consumer.subscribe(
                self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
            )
            while not self._stop.is_set():
                self._step(pool)
            self._shutdown(pool)
        except Stopped:
            log.info("stopped before the target became available", extra={"target": self.target.name})
        finally:
            pool.shutdown(wait=True)
            self._outage.slow.stop()
            dead_letters.rejections.tick(force=True)
            self._purged.refresh(dead_letters.producer.producer, final=True)
            self._purged.close()
            self._consumer.close()
            dead_letters.producer.flush(10)
            self.target.close()
            log.info("sink stopped", extra={"target": self.target.name})

    # -- main loop ------------------------------------------------------------------------------------------

    def _step(self, pool: ThreadPoolExecutor) -> None:
        assert self._consumer is not None and self._dead_letters is not None
        self._drain_done(block=False)
        self._submit_ready(pool)
        self._set_paused(self._outage.down)
        if self._ready and not self._paused:
            # Every writer is busy and a full batch waits: let a writer finish before reading more.
            self._drain_done(block=True)
        else:
            for raw in self._consumer.consume(num_messages=1000, timeout=POLL_TIMEOUT_S):
                self._accept(raw)
        due = self._batcher.due()
        if due is not None:
            self._ready.append(due)
        self._dead_letters.producer.poll()
        self._commits.tick()
        self._dead_letters.rejections.tick()
        self._purged.refresh(self._dead_letters.producer.producer)

    def _accept(self, raw: Message) -> None:
        assert self._dead_letters is not None
        error = raw.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                return
            log.warning("kafka consumer error: %s", error, extra={"target": self.target.name})
            return
        tracker = self._commits.tracker(raw.topic(), raw.partition())
        if not tracker.add(raw.offset()):
            return
        self._documents(raw.topic(), "in").inc()
        headers = raw.headers()
        if redrive.skipped_by(headers, self.target.name):  # re-driven for other targets; this one has it already
            self._documents(raw.topic(), "skipped").inc()
            tracker.ack(raw.offset())
            return
        item = _Item(raw, tracker)
        try:
            item.msg = docmsg.decode(raw.key(), raw.value(), headers, parse_body=self.target.parse_body)
        except docmsg.MalformedDocument as exc:
            self._documents(raw.topic(), "undecodable").inc()
            self._dead_letters.send(raw, tracker, f"undecodable document message: {exc}", "undecodable")
            return
        if self._purged.skip(item.msg.git_hash):  # a release purged with `spider purge`: never indexed again
            self._documents(raw.topic(), "purged").inc()
            tracker.ack(raw.offset())
            return
        self._ready.extend(self._batcher.add(item, len(raw.value() or b"")))

    def _submit_ready(self, pool: ThreadPoolExecutor) -> None:
        while self._ready and self._in_flight < self.config.max_in_flight:
            batch = self._ready.popleft()
            self._in_flight += 1
            metrics.IN_FLIGHT.labels(self.target.name).set(self._in_flight)
            pool.submit(self._write, batch.items)

    def _drain_done(self, block: bool) -> None:
        try:
            done = self._done.get(timeout=POLL_TIMEOUT_S) if block else self._done.get_nowait()
        except queue.Empty:
            return
        while True:
            self._in_flight -= 1
            metrics.IN_FLIGHT.labels(self.target.name).set(self._in_flight)
            self._complete(done)
            try:
                done = self._done.get_nowait()
            except queue.Empty:
                return

    def _complete(self, done: _Done) -> None:
        assert self._dead_letters is not None
        if not done.written:
            return
        rejected = {id(r.msg): r.reason for r in done.rejections}
        for item in done.items:
            raw = item.raw
            reason = rejected.get(id(item.msg))
            if reason is None:
                self._documents(raw.topic(), "out").inc()
                item.tracker.ack(raw.offset())
            elif self._commits.owns(raw.topic(), raw.partition(), item.tracker):  # not revoked meanwhile
                self._documents(raw.topic(), "rejected").inc()
                self._dead_letters.send(raw, item.tracker, reason, "rejected")

    def _documents(self, topic: str, outcome: str):
        """The documents counter of (topic, outcome), looked up once: `labels()` per document cost ~7% of the
        sink's CPU in the throughput benchmark."""
        counter = self._counters.get((topic, outcome))
        if counter is None:
            counter = self._counters[(topic, outcome)] = metrics.DOCUMENTS.labels(topic, self.target.name, outcome)
        return counter

    # -- writing --------------------------------------------------------------------------------------------

    def _write(self, items: list[_Item]) -> None:
        """Writer thread: one batch, retried until the target takes it (or the runner stops)."""
        docs = [item.msg for item in items if item.msg is not None]
        try:
            rejections = self._outage.retry(
                lambda: self.target.write(docs), batch_size=len(docs), what=f"writing {len(docs)} documents"
            )
            self._done.put(_Done(items, rejections or []))
        except Stopped:
            self._done.put(_Done(items, written=False))
        except BaseException:
            log.exception("writer crashed", extra={"target": self.target.name})
            self._done.put(_Done(items, written=False))
            self.stop()

    # -- partitions, pausing ---------------------------------------------------------------------------------

    def _set_paused(self, paused: bool) -> None:
        assert self._consumer is not None
        if paused == self._paused:
            return
        self._paused = paused
        assignment = self._consumer.assignment()
        if assignment:
            (self._consumer.pause if paused else self._consumer.resume)(assignment)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._commits.assigned(partitions)
        if self._paused and partitions:
            consumer.pause(partitions)
        log.info(
            "partitions assigned: %s",
            [f"{tp.topic}[{tp.partition}]" for tp in partitions],
            extra={"target": self.target.name},
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Commit what is done for the revoked partitions, then forget their pending and in-flight work."""
        assert self._dead_letters is not None
        self._drain_done(block=False)
        self._dead_letters.producer.poll()
        self._commits.commit(asynchronous=False, only={(tp.topic, tp.partition) for tp in partitions})
        self._forget(partitions)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget(partitions)

    def _forget(self, partitions: list[TopicPartition]) -> None:
        gone = {(tp.topic, tp.partition) for tp in partitions}
        self._commits.forget(gone)

        def kept(item: _Item) -> bool:
            return (item.raw.topic(), item.raw.partition()) not in gone

        self._batcher.drop(kept)
        for batch in self._ready:
            batch.items[:] = [item for item in batch.items if kept(item)]
        while self._ready and not self._ready[0].items:
            self._ready.popleft()

    def _shutdown(self, pool: ThreadPoolExecutor) -> None:
        """Finish: send the partial batch, wait for the writers, deliver dead letters, commit."""
        assert self._dead_letters is not None
        final = self._batcher.flush()
        if final is not None:
            self._ready.append(final)
        while self._ready or self._in_flight:
            if not self._outage.down:
                self._submit_ready(pool)
            else:
                self._ready.clear()  # not written, not committed: the next run reads them again
            self._drain_done(block=True)
        self._dead_letters.producer.flush(30)
        self._commits.commit(asynchronous=False)
