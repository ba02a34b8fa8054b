"""Kafka plumbing shared by the services: the producer with per-batch delivery accounting.

The collector and the converter publish through `Publisher`. A history checkpoint may only move once Kafka
acknowledged every ad of that schedd, so each poll owns a `Delivery` that counts its own reports; one slow
schedd's batch never waits for another's. The producer is idempotent (no duplicates from internal retries,
order kept per partition) and compresses batches.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from confluent_kafka import KafkaError, Message, Producer

from services.common import topics
from services.common.config import KafkaSettings

Report = Callable[[KafkaError | None, Message], None]


class Delivery:
    """Delivery reports of one batch: how many are still in flight, delivered, failed, and the first error."""

    def __init__(self) -> None:
        self._done = threading.Condition()
        self.pending = 0
        self.delivered = 0
        self.failed = 0
        self.first_error: str | None = None

    def _sent(self, count: int = 1) -> None:
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
        conf = kafka.client_config() | {
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": compression,
            "linger.ms": linger_ms,
            "delivery.timeout.ms": delivery_timeout_ms,
            "queue.buffering.max.messages": 200_000,
            # librdkafka's default 1 GB let a file replay hold every ad in memory (917 MB for 200,000 ads);
            # produce() waits for room instead (bench/e2e, docs/performance.md)
            "queue.buffering.max.kbytes": 64 * 1024,
            "message.max.bytes": kafka.message_bytes(*destinations),
            # a batch of several messages must fit the smallest of those topics (a larger one is refused whole)
            "batch.size": min(1_000_000, *(kafka.message_bytes(name) for name in destinations)),
        }
        self._producer = Producer(conf)
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
        delivery._sent()
        while True:
            try:
                self._producer.produce(topic, value, key, on_delivery=report or delivery.report, headers=headers)
                return
            except BufferError:
                time.sleep(0.005)
            except Exception:
                delivery._sent(-1)
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
