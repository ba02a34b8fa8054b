"""The sink runner: Kafka document topics -> one target, without loss and without blocking a partition.

One consumer group per target, so a slow or down target never holds back another. The consumer thread
decodes and batches; a small pool writes batches concurrently. A partition's offset is committed only up to
the lowest offset whose document is not yet written or dead-lettered (services/sinks/offsets.py), so a crash
re-sends at most what was in flight, and targets make that harmless with idempotent writes (document ids).

While the target is unavailable the writers retry forever with jittered exponential backoff and the
consumer pauses its partitions (still polling, so it keeps its group membership); it resumes once a write
succeeds. Rejected and undecodable documents go to the dead-letter topic and are acknowledged after the
dead-letter record is delivered.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from prometheus_client import Counter

from services.common import dead_letter, redrive
from services.common import document_message as docmsg
from services.common import kafka as kafka_clients
from services.common.backoff import Backoff
from services.common.compacted import CompactedTopicError
from services.common.document_message import DocMessage
from services.common.groups import GroupNames
from services.common.purged_releases import PurgedHashes
from services.sinks import metrics
from services.sinks.batching import Batch, Batcher
from services.sinks.config import SinkConfig
from services.sinks.errors import Rejection, TargetUnavailable
from services.sinks.offsets import PartitionOffsets
from services.sinks.visibility import SLOW_REQUEST_S, RejectionSummary, SlowRequests

__all__ = ["Initializable", "Rejection", "SinkRunner", "Target", "TargetUnavailable"]

log = logging.getLogger(__name__)

COMMIT_INTERVAL_S = 1.0
LAG_INTERVAL_S = 5.0
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
        self._wake = threading.Event()
        self._done: queue.Queue[_Done] = queue.Queue()
        self._trackers: dict[tuple[str, int], PartitionOffsets] = {}
        self._counters: dict[tuple[str, str], Counter] = {}
        self._ready: deque[Batch[_Item]] = deque()
        self._batcher: Batcher[_Item] = Batcher(config.batch_size, config.batch_bytes, config.linger_s)
        self._in_flight = 0
        self._paused = False
        self._outage_since: float | None = None
        self._outage_lock = threading.Lock()
        self._last_commit = 0.0
        self._last_lag = 0.0
        self._consumer: Consumer | None = None
        self._dlq: kafka_clients.DeadLetterProducer | None = None
        self._service = dead_letter.service_identity(f"sink-{target.name}")
        self._rejections = RejectionSummary(log, {"target": target.name})
        # a quarter of the request timeout, at most SLOW_REQUEST_S: the wait shows well before the timeout ends it
        slow_s = min(SLOW_REQUEST_S, config.request_timeout_s / 4)
        self._slow = SlowRequests(log, {"target": target.name}, slow_s)
        self._purged = PurgedHashes(config.kafka, target.name)

    # -- public -----------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the runner to finish: in-flight batches complete (or give up if the target is down), offsets
        are committed, the consumer leaves its group."""
        self._stop.set()
        self._wake.set()

    def ready(self) -> bool | str:
        """Readiness for /readyz: not ready while the target is unavailable."""
        return True if self._outage_since is None else f"target {self.target.name} unavailable"

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
                "on_commit": self._on_commit,
            },
        )
        self._dlq = kafka_clients.DeadLetterProducer(
            self.config.kafka, self.config.dlq_topic, {"target": self.target.name}
        )
        log.info(
            "sink starting",
            extra={"target": self.target.name, "group": self.group_id, "topics": self.topics},
        )
        pool = ThreadPoolExecutor(self.config.max_in_flight, thread_name_prefix=f"sink-{self.target.name}")
        self._slow.start()
        try:
            if isinstance(self.target, Initializable):
                self._retrying(self.target.initialize, what="installing the index templates")
            self._read_purged_releases()
            self._consumer.subscribe(
                self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
            )
            while not self._stop.is_set():
                self._step(pool)
            self._shutdown(pool)
        except _Stopped:
            log.info("stopped before the target became available", extra={"target": self.target.name})
        finally:
            pool.shutdown(wait=True)
            self._slow.stop()
            self._rejections.tick(force=True)
            self._purged.refresh(self._dlq.producer, final=True)
            self._purged.close()
            self._consumer.close()
            self._dlq.flush(10)
            self.target.close()
            log.info("sink stopped", extra={"target": self.target.name})

    # -- main loop ------------------------------------------------------------------------------------------

    def _step(self, pool: ThreadPoolExecutor) -> None:
        assert self._consumer is not None and self._dlq is not None
        self._drain_done(block=False)
        self._submit_ready(pool)
        self._set_paused(self._outage_since is not None)
        if self._ready and not self._paused:
            # Every writer is busy and a full batch waits: let a writer finish before reading more.
            self._drain_done(block=True)
        else:
            for raw in self._consumer.consume(num_messages=1000, timeout=POLL_TIMEOUT_S):
                self._accept(raw)
        due = self._batcher.due()
        if due is not None:
            self._ready.append(due)
        self._dlq.poll()
        now = time.monotonic()
        if now - self._last_commit >= COMMIT_INTERVAL_S:
            self._commit(asynchronous=True)
        if now - self._last_lag >= LAG_INTERVAL_S:
            self._update_lag()
        self._rejections.tick()
        self._purged.refresh(self._dlq.producer)

    def _read_purged_releases(self) -> None:
        """The purged hashes must be known before the first document: a replay must not index one of them."""
        backoff = Backoff(self.config.backoff_base_s, self.config.backoff_max_s, self._wake)
        while True:
            try:
                self._purged.start()
                return
            except CompactedTopicError as exc:
                log.warning("cannot read purged releases yet, retrying: %s", exc, extra={"target": self.target.name})
            if self._stop.is_set():
                raise _Stopped
            backoff.wait()

    def _accept(self, raw: Message) -> None:
        error = raw.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                return
            log.warning("kafka consumer error: %s", error, extra={"target": self.target.name})
            return
        tp = (raw.topic(), raw.partition())
        tracker = self._trackers.get(tp)
        if tracker is None:
            tracker = self._trackers[tp] = PartitionOffsets()
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
            self._dead_letter(item, f"undecodable document message: {exc}", "undecodable")
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
        if not done.written:
            return
        rejected = {id(r.msg): r.reason for r in done.rejections}
        for item in done.items:
            topic = item.raw.topic()
            reason = rejected.get(id(item.msg))
            if reason is None:
                self._documents(topic, "out").inc()
                item.tracker.ack(item.raw.offset())
            elif self._owned(item):
                self._documents(topic, "rejected").inc()
                self._dead_letter(item, reason, "rejected")

    def _documents(self, topic: str, outcome: str):
        """The documents counter of (topic, outcome), looked up once: `labels()` per document cost ~7% of the
        sink's CPU in the throughput benchmark."""
        counter = self._counters.get((topic, outcome))
        if counter is None:
            counter = self._counters[(topic, outcome)] = metrics.DOCUMENTS.labels(topic, self.target.name, outcome)
        return counter

    def _owned(self, item: _Item) -> bool:
        """Whether the item's partition is still ours (not revoked since it was consumed)."""
        return self._trackers.get((item.raw.topic(), item.raw.partition())) is item.tracker

    # -- dead letters ---------------------------------------------------------------------------------------

    def _dead_letter(self, item: _Item, reason: str, reason_class: str) -> None:
        """Record the document in the dead-letter topic; its offset is acknowledged once that is delivered."""
        assert self._dlq is not None
        raw = item.raw
        self._rejections.add(reason, {"topic": raw.topic(), "partition": raw.partition(), "offset": raw.offset()})
        metrics.DEAD_LETTERS.labels(self.target.name, reason_class).inc()
        if self.config.dlq_policy == "log":
            item.tracker.ack(raw.offset())
            return
        origin = dead_letter.Origin(
            raw.topic(), raw.partition(), raw.offset(), raw.key(), raw.value(), raw.headers() or ()
        )
        letter = dead_letter.record(
            f"sink-{self.target.name}",
            reason,
            origin,
            self._service,
            details={"target": self.target.name, "class": reason_class},
        )
        self._dlq.send(letter, lambda: item.tracker.ack(raw.offset()))

    # -- writing --------------------------------------------------------------------------------------------

    def _write(self, items: list[_Item]) -> None:
        """Writer thread: one batch, retried until the target takes it (or the runner stops)."""
        docs = [item.msg for item in items if item.msg is not None]
        try:
            rejections = self._retrying(
                lambda: self.target.write(docs), batch_size=len(docs), what=f"writing {len(docs)} documents"
            )
            self._done.put(_Done(items, rejections or []))
        except _Stopped:
            self._done.put(_Done(items, written=False))
        except BaseException:
            log.exception("writer crashed", extra={"target": self.target.name})
            self._done.put(_Done(items, written=False))
            self.stop()

    def _retrying(self, call, *, what: str, batch_size: int | None = None):
        """`call` until it succeeds or the runner stops; `what` names it in the log (a slow request, an outage)."""
        backoff = Backoff(self.config.backoff_base_s, self.config.backoff_max_s, self._wake)
        while True:
            started = time.perf_counter()
            # during an outage its own log lines say enough: a hanging retry is not reported again
            watch = self._slow.track(what) if self._outage_since is None else contextlib.nullcontext()
            try:
                with watch:
                    result = call()
            except TargetUnavailable as exc:
                self._mark_outage(exc, what, time.perf_counter() - started)
            except Exception as exc:
                log.exception("target %s failed unexpectedly; retrying", self.target.name)
                self._mark_outage(exc, what, time.perf_counter() - started)
            else:
                if batch_size is not None:
                    metrics.BULK_DURATION.labels(self.target.name).observe(time.perf_counter() - started)
                    metrics.BATCH_SIZE.labels(self.target.name).observe(batch_size)
                self._mark_recovered()
                return result
            if self._stop.is_set():
                raise _Stopped
            metrics.RETRIES.labels(self.target.name).inc()
            backoff.wait()

    def _mark_outage(self, exc: BaseException, what: str, waited_s: float) -> None:
        """The start of an outage, logged once: it began when the failed request was sent (`waited_s` ago; a
        frozen cluster fails a request only at its timeout)."""
        with self._outage_lock:
            if self._outage_since is not None:
                return
            self._outage_since = time.monotonic() - waited_s
            self._wake.clear()
        metrics.OUTAGE.labels(self.target.name).set(1)
        metrics.OUTAGES.labels(self.target.name).inc()
        log.warning(
            "target unavailable (%s, failed after %.1f s), pausing consumption and retrying until it answers: %s",
            what,
            waited_s,
            exc,
            extra={"target": self.target.name, "error_type": type(exc).__name__},
        )

    def _mark_recovered(self) -> None:
        with self._outage_lock:
            if self._outage_since is None:
                return
            down_s = time.monotonic() - self._outage_since
            self._outage_since = None
            self._wake.set()
        metrics.OUTAGE.labels(self.target.name).set(0)
        log.warning("target available again after %.1f s, resuming", down_s, extra={"target": self.target.name})

    # -- partitions, pausing, commits -----------------------------------------------------------------------

    def _set_paused(self, paused: bool) -> None:
        assert self._consumer is not None
        if paused == self._paused:
            return
        self._paused = paused
        assignment = self._consumer.assignment()
        if assignment:
            (self._consumer.pause if paused else self._consumer.resume)(assignment)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._trackers[(tp.topic, tp.partition)] = PartitionOffsets()
        if self._paused and partitions:
            consumer.pause(partitions)
        log.info(
            "partitions assigned: %s",
            [f"{tp.topic}[{tp.partition}]" for tp in partitions],
            extra={"target": self.target.name},
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Commit what is done for the revoked partitions, then forget their pending and in-flight work."""
        self._drain_done(block=False)
        self._dlq.poll()
        self._commit(asynchronous=False, only={(tp.topic, tp.partition) for tp in partitions})
        self._forget(partitions)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget(partitions)

    def _forget(self, partitions: list[TopicPartition]) -> None:
        gone = {(tp.topic, tp.partition) for tp in partitions}
        for tp in gone:
            self._trackers.pop(tp, None)

        def kept(item: _Item) -> bool:
            return (item.raw.topic(), item.raw.partition()) not in gone

        self._batcher.drop(kept)
        for batch in self._ready:
            batch.items[:] = [item for item in batch.items if kept(item)]
        while self._ready and not self._ready[0].items:
            self._ready.popleft()

    def _commit(self, asynchronous: bool, only: set[tuple[str, int]] | None = None) -> None:
        """Commit every acknowledged prefix Kafka has not confirmed yet. A tracker's `committed` moves only when
        Kafka confirms (the commit callback, or a synchronous commit's result): an asynchronous commit that fails
        is sent again by the next periodic commit and by the synchronous one at revoke and shutdown."""
        assert self._consumer is not None
        self._last_commit = time.monotonic()
        offsets = self._uncommitted(only)
        if not offsets:
            return
        try:
            result = self._consumer.commit(offsets=offsets, asynchronous=asynchronous)
        except KafkaException as exc:
            log.warning("offset commit failed: %s", exc, extra={"target": self.target.name})
            return
        if not asynchronous:
            self._confirmed(result or [])

    def _uncommitted(self, only: set[tuple[str, int]] | None = None) -> list[TopicPartition]:
        """Commit positions of the (selected) partitions whose acknowledged prefix is past the confirmed commit."""
        offsets = []
        for (topic, partition), tracker in self._trackers.items():
            if only is not None and (topic, partition) not in only:
                continue
            position = tracker.committable()
            if position is not None:
                offsets.append(TopicPartition(topic, partition, position))
        return offsets

    def _on_commit(self, err: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """Kafka's answer to a commit (called from the consumer's poll, in the runner thread)."""
        if err is not None:
            log.warning("offset commit failed, will retry: %s", err, extra={"target": self.target.name})
            return
        self._confirmed(partitions)

    def _confirmed(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            if tp.error is not None:
                log.warning(
                    "offset commit of %s[%d] failed, will retry: %s",
                    tp.topic,
                    tp.partition,
                    tp.error,
                    extra={"target": self.target.name},
                )
                continue
            tracker = self._trackers.get((tp.topic, tp.partition))
            if tracker is not None and tp.offset >= 0:
                tracker.mark_committed(tp.offset)

    def _update_lag(self) -> None:
        assert self._consumer is not None
        self._last_lag = time.monotonic()
        per_topic: dict[str, int] = {}
        for (topic, partition), tracker in list(self._trackers.items()):
            try:
                _low, high = self._consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
            except KafkaException:
                continue
            if high < 0 or tracker.committed is None:
                continue
            per_topic[topic] = per_topic.get(topic, 0) + max(0, high - tracker.committed)
        for topic, lag in per_topic.items():
            metrics.LAG.labels(topic, self.target.name).set(lag)

    def _shutdown(self, pool: ThreadPoolExecutor) -> None:
        """Finish: send the partial batch, wait for the writers, deliver dead letters, commit."""
        assert self._dlq is not None
        final = self._batcher.flush()
        if final is not None:
            self._ready.append(final)
        while self._ready or self._in_flight:
            if self._outage_since is None:
                self._submit_ready(pool)
            else:
                self._ready.clear()  # not written, not committed: the next run reads them again
            self._drain_done(block=True)
        self._dlq.flush(30)
        self._commit(asynchronous=False)


class _Stopped(Exception):
    """The runner stopped while a write was still waiting for the target."""
