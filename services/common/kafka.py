"""Kafka plumbing shared by the services: client construction, delivery tracking, dead letters.

Every librdkafka client of a service is built here, from `KafkaSettings`: the connection (servers, TLS, SASL:
`KafkaSettings.client_config`), librdkafka's own log lines through the service's logger (each failure once,
services/common/logs.py), producers that are idempotent with acks=all and size their messages by the topics
they write (`KafkaSettings.message_size`), and consumers that fetch a whole message of the topics they read.

`Publisher` is the producer of the collector and the converter. A history checkpoint may only move once Kafka
acknowledged every ad of that schedd, so each poll owns a `Delivery` that counts its own reports; one slow
schedd's batch never waits for another's. `DeadLetterProducer` sends one dead letter at a time and says when
Kafka holds it (the sinks acknowledge a refused document's offset only then).

Admin requests are awaited with `wait`, which serves the client's callbacks meanwhile (librdkafka's errors are
logged while a request hangs, not after it), and requests a group coordinator answers go through `coordinated`:
a Kafka that has just started, or whose coordinator moved to another broker, answers "Not coordinator" or
"Coordinator load in progress" for a while, and that is waited out (bounded) instead of failing. `ready` is the
bounded check every admin tool does first: a broker answers, then a group coordinator does.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient

from services.common import dead_letter, logs, topics
from services.common.backoff import Backoff
from services.common.config import KafkaSettings
from services.common.errors import SpiderError

log = logging.getLogger(__name__)

Report = Callable[[KafkaError | None, Message], None]
T = TypeVar("T")

# What a group request gets while no coordinator is ready for the group: retried, not failed
COORDINATOR_ERRORS = frozenset(
    {KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.COORDINATOR_LOAD_IN_PROGRESS}
)
PROBE_GROUP = "spider-readiness-probe"  # described, never joined: its state answers whether a coordinator is up
REACH_S = 2.0  # how long the first contact may take before Kafka is called unreachable


class KafkaUnavailable(SpiderError):
    """Kafka did not answer, or had no group coordinator, within the bound; the message names the servers."""


def client_config(kafka: KafkaSettings) -> dict[str, Any]:
    """The connection settings with how every spider client behaves: librdkafka's lines go through the service's
    logger (JSON in production), and a failed TLS handshake or login is retried after 1 s, not at once."""
    return kafka.client_config() | {"reconnect.backoff.ms": 1000, "logger": logs.LIBRDKAFKA}


def producer(
    kafka: KafkaSettings, destinations: Sequence[str], *, linger_ms: int = 20, options: dict[str, Any] | None = None
) -> Producer:
    """An idempotent producer (acks=all: no duplicates from internal retries, order kept per partition) whose
    largest message is the largest the `destinations` (topic names before the prefix) take (librdkafka's default
    without them); `options` are further librdkafka settings."""
    conf = client_config(kafka) | {"enable.idempotence": True, "acks": "all", "linger.ms": linger_ms}
    if destinations:
        conf["message.max.bytes"] = kafka.message_bytes(*destinations)
    return Producer(conf | (options or {}))


def consumer(
    kafka: KafkaSettings, group_id: str, sources: Sequence[str] = (), options: dict[str, Any] | None = None
) -> Consumer:
    """A consumer that commits only what its caller says (no auto-commit) and fetches a whole message of the
    largest size the `sources` (topic names before the prefix) take; `options` are further settings."""
    conf = client_config(kafka) | {"group.id": group_id, "enable.auto.commit": False}
    if sources:
        conf["max.partition.fetch.bytes"] = kafka.message_bytes(*sources)
    return Consumer(conf | (options or {}))


def reader(kafka: KafkaSettings, name: str) -> Consumer:
    """A consumer that only `assign`s: it never joins or commits for a group (its group id is unique and unused),
    starts at the earliest offset and reports each partition's end."""
    options = {"enable.auto.offset.store": False, "enable.partition.eof": True, "auto.offset.reset": "earliest"}
    return consumer(kafka, f"{name}-{uuid.uuid4().hex[:12]}", options=options)


def admin(kafka: KafkaSettings, options: dict[str, Any] | None = None) -> AdminClient:
    return AdminClient(client_config(kafka) | (options or {}))


def wait(client: AdminClient, future: Future[T], timeout_s: float) -> T:
    """The result of an admin request, serving the client's callbacks (librdkafka's log lines) while it runs;
    TimeoutError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not future.done():
        if time.monotonic() >= deadline:
            raise TimeoutError
        client.poll(0.1)
    return future.result()


def coordinated(
    client: AdminClient, kafka: KafkaSettings, request: Callable[[], Future[T]], what: str, timeout_s: float = 60.0
) -> T:
    """The result of a request a group coordinator answers, sent again while Kafka has no coordinator ready
    (bounded by `timeout_s`, said once in the log); KafkaException for any other error."""
    deadline = time.monotonic() + timeout_s
    backoff = Backoff(0.2, 2.0)
    said = False
    while True:
        try:
            return wait(client, request(), max(deadline - time.monotonic(), 0.1))
        except TimeoutError:
            raise KafkaUnavailable(
                f"Kafka at {kafka.bootstrap_servers}: {what}: no answer in {timeout_s:.0f} s"
            ) from None
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.code() not in COORDINATOR_ERRORS:
                raise
            if time.monotonic() + backoff.cap > deadline:
                raise KafkaUnavailable(
                    f"Kafka at {kafka.bootstrap_servers}: {what}: no group coordinator ready after {timeout_s:.0f} s "
                    f"({error.name()}: the broker that should coordinate the group is starting or moving)"
                ) from None
            if not said:
                log.info("%s: waiting for Kafka's group coordinator (%s)", what, error.name())
                said = True
            backoff.wait()


def reachable(client: AdminClient, kafka: KafkaSettings, timeout_s: float = REACH_S) -> int:
    """How many brokers Kafka lists; KafkaUnavailable after `timeout_s` without an answer. Asks once a second and
    serves the client in between, so librdkafka's reason (refused, TLS, login, name) is logged while it waits."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            metadata = client.list_topics(timeout=max(min(1.0, deadline - time.monotonic()), 0.1))
        except KafkaException as exc:
            cause = exc.args[0].str()
        else:
            if metadata.brokers:
                return len(metadata.brokers)
            cause = "no broker registered yet"
        client.poll(0)
        if time.monotonic() >= deadline:
            raise KafkaUnavailable(
                f"Kafka at {kafka.bootstrap_servers} is unreachable: no answer within {timeout_s:.1f} s ({cause})"
            )


def ready(client: AdminClient, kafka: KafkaSettings, timeout_s: float = 60.0, reach_s: float | None = None) -> int:
    """Wait until Kafka is usable for admin work: a broker answers within `reach_s` (default `timeout_s`; an
    operator's command passes REACH_S to fail fast), then a group coordinator does within `timeout_s` (a
    just-started Kafka creates its offsets topic first). Returns the number of brokers."""
    brokers = reachable(client, kafka, timeout_s if reach_s is None else reach_s)
    coordinated(
        client,
        kafka,
        lambda: client.describe_consumer_groups([PROBE_GROUP], request_timeout=timeout_s)[PROBE_GROUP],
        "waiting until Kafka is ready",
        timeout_s,
    )
    return brokers


def produce(
    target: Producer,
    topic: str,
    key: bytes | None,
    value: bytes | None,
    report: Report,
    *,
    headers: Sequence[tuple[str, bytes | None]] | None = None,
    partition: int | None = None,
) -> None:
    """Queue one message; waits (never drops) while librdkafka's local queue is full, serving delivery reports."""
    where = {} if partition is None else {"partition": partition}
    while True:
        try:
            target.produce(topic, value, key, on_delivery=report, headers=headers, **where)
            return
        except BufferError:
            target.poll(0.005)


class Delivery:
    """Delivery reports of one batch: how many are still in flight, delivered, failed, and the first error."""

    def __init__(self) -> None:
        self._done = threading.Condition()
        self.pending = 0
        self.delivered = 0
        self.failed = 0
        self.first_error: str | None = None

    def add(self, count: int = 1) -> None:
        """Count messages handed to the producer (before `produce`, so that no report comes before its count)."""
        with self._done:
            self.pending += count

    def report(self, err: KafkaError | None, msg: Message) -> None:
        with self._done:
            self.pending -= 1
            if err is None:
                self.delivered += 1
            else:
                self.failed += 1
                self.first_error = self.first_error or err.str()
            if self.pending == 0:
                self._done.notify_all()

    def wait(self, timeout: float) -> bool:
        """True when every message of the batch got a report within `timeout` seconds."""
        with self._done:
            return self._done.wait_for(lambda: self.pending == 0, timeout=max(timeout, 0.0))

    @property
    def ok(self) -> bool:
        return self.pending == 0 and self.failed == 0


class Publisher:
    """One idempotent, compressed producer shared by every poll of the process; a thread serves reports.

    `destinations` (topic names before the prefix) set the largest message it sends: the largest limit of
    those topics (`KafkaSettings.message_size`); a larger message raises KafkaException at `produce`.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        destinations: Sequence[str] = (topics.RAW_QUEUE, topics.RAW_HISTORY, topics.DLQ_CONVERTER),
        compression: str = "zstd",
        delivery_timeout_ms: int = 120_000,
        linger_ms: int = 50,
    ) -> None:
        options = {
            "compression.type": compression,
            "delivery.timeout.ms": delivery_timeout_ms,
            "queue.buffering.max.messages": 200_000,
            # librdkafka's default 1 GB let a file replay hold every ad in memory (917 MB for 200,000 ads);
            # produce() waits for room instead (bench/e2e, docs/performance.md)
            "queue.buffering.max.kbytes": 64 * 1024,
            # a batch of several messages must fit the smallest of those topics (a larger one is refused whole)
            "batch.size": min(1_000_000, *(kafka.message_bytes(name) for name in destinations)),
        }
        self._producer = producer(kafka, destinations, linger_ms=linger_ms, options=options)
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._serve_reports, name="kafka-delivery-reports", daemon=True)
        self._poller.start()

    def _serve_reports(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)

    def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        delivery: Delivery,
        headers: Sequence[tuple[str, bytes]] | None = None,
        report: Report | None = None,
    ) -> None:
        """Queue one message; waits (never drops) while librdkafka's local queue is full. `report` (default
        `delivery.report`) gets the delivery report and must pass it on to `delivery.report`."""
        delivery.add()
        try:
            produce(self._producer, topic, key, value, report or delivery.report, headers=headers)
        except Exception:
            delivery.add(-1)
            raise

    def flush(self, timeout: float) -> int:
        """Messages still undelivered after `timeout` seconds (0 when everything got a report)."""
        return self._producer.flush(timeout)

    def close(self, timeout: float = 30.0) -> int:
        """Deliver what is queued for at most `timeout` seconds, then drop the rest (its delivery reports say
        so); returns how many messages were dropped. Bounded, so that a stop never waits on an unreachable Kafka."""
        remaining = self.flush(max(timeout, 0.0))
        if remaining:
            self._producer.purge()
            self._producer.flush(1.0)
        self._stop.set()
        self._poller.join(timeout=5)
        return remaining


class DeadLetterProducer:
    """Dead letters into one topic, one at a time: each is cut to the topic's size limit and re-sent until Kafka
    holds it, then `on_stored` runs (from `poll` or `flush`, in the caller's thread)."""

    def __init__(self, kafka: KafkaSettings, topic: str, log_extra: dict[str, Any] | None = None) -> None:
        self.topic = kafka.topic(topic)
        self.max_bytes = kafka.message_size.limit(topic)
        self.producer = producer(kafka, (topic,))
        self._extra = log_extra or {}

    def send(self, letter: dead_letter.DeadLetter, on_stored: Callable[[], None]) -> None:
        key, value = dead_letter.encode(letter, max_bytes=self.max_bytes)

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is None:
                on_stored()
            else:
                log.error("dead-letter delivery failed, retrying: %s", err, extra=self._extra)
                self.producer.produce(self.topic, value, key, on_delivery=delivered)

        produce(self.producer, self.topic, key, value, delivered)

    def poll(self) -> None:
        self.producer.poll(0)

    def flush(self, timeout: float) -> int:
        return self.producer.flush(timeout)
