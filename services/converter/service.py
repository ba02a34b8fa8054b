"""`spider converter`: the faust-streaming service, raw ads in, documents out.

At-least-once without loss: the agent reads a batch with manual acks (`noack_take`), converts it and hands
every output to librdkafka; a delivery task waits until Kafka acknowledged all of them (failed sends are
retried, never skipped) and only then acks that batch's input events. faust commits only the highest
contiguous acked offset, so a crash or SIGKILL at any point replays the unacknowledged tail: duplicates are
possible, loss is not. Document ids are deterministic, so a duplicate overwrites the same document in the sinks.

Sizes and refusals: an output larger than its topic's limit (`kafka.message_size`) is not sent; a document
becomes a dead letter that says so, and a dead letter keeps only the start of the original value. A message
Kafka refuses for good (MSG_SIZE_TOO_LARGE, INVALID_RECORD, ...) is handled the same way when its report
comes back; other failed sends are retried. One message never stops the agent and is never skipped.

Why librdkafka for the outputs and several batches in flight: with faust's aiokafka producer, building and
writing produce requests took ~15% of the worker's time on the GIL, and each batch waited for its
acknowledgements before the next one was converted. librdkafka batches, compresses and sends on its own
threads, and the next batch is converted while the previous ones are being acknowledged (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import Counter as Tally
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import faust
from aiokafka.helpers import create_ssl_context
from confluent_kafka import KafkaError, KafkaException, Message
from prometheus_client import Counter, Histogram

from services import compilation
from services.common import dead_letter, gc_tuning, logs, observability, topics
from services.common.backoff import Backoff
from services.common.config import MIB, KafkaSettings, size_text
from services.common.dead_letter import Origin, service_identity
from services.common.kafka import Delivery, Report
from services.common.kafka import Publisher as KafkaPublisher
from services.common.shutdown import Stopping
from services.common.topic_admin import create_topics
from services.converter import faust_kafka
from services.converter.config import ConverterConfig
from services.converter.pipeline import STAGE, Contexts, Converted, DeadLettered, Dropped, Outcome, step

log = logging.getLogger(__name__)

MESSAGES = Counter(
    "spider_converter_messages",
    "Raw messages processed, by input topic and outcome (converted, dead_lettered, dropped)",
    ["topic", "outcome"],
)
DEAD_LETTERS = Counter(
    "spider_converter_dead_letters", "Raw messages sent to the dead-letter topic, by reason", ["reason"]
)
ADS_DROPPED = Counter(
    "spider_converter_ads_dropped", "Ads the rules chose not to publish (not errors), by reason", ["reason"]
)
SEND_RETRIES = Counter("spider_converter_send_retries", "Output sends that failed and were retried", ["topic"])
BATCH_SECONDS = Histogram(
    "spider_converter_batch_duration_seconds",
    "Time to convert a batch and have all its outputs acknowledged",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

TOO_LARGE = "too_large"  # dead-letter reasons of the sending side, next to the pipeline's
REFUSED = "refused_by_kafka"
# Produce errors that no retry can fix: the message (or its batch) is what Kafka refuses
REFUSALS = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.INVALID_MSG,
        KafkaError.INVALID_RECORD,
        KafkaError.INVALID_TIMESTAMP,
    }
)


class MessageTooLarge(Exception):
    """An output larger than its topic's size limit."""


class RefusedByKafka(Exception):
    """An output Kafka refused for good."""


@dataclass(slots=True)
class Output:
    """One message to send for one input message; `origin` (with the input's bytes) makes the dead letter that
    replaces it if it is too large or refused. `reason` is the dead-letter reason, None for a document."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]] | None
    origin: Origin
    reason: str | None = None

    def size(self) -> int:
        """Bytes Kafka counts against the limit, before compression."""
        headers = sum(len(name) + len(value or b"") for name, value in self.headers or ())
        return len(self.key or b"") + len(self.value) + headers


def exact(value: bytes) -> bytes:
    """`value` in an allocation of its own size. orjson (>= 3.12) returns its bytes in the buffer it wrote them
    into, never shrunk: ~126 KiB for an 8 KiB document. The outputs of the batches in flight (~2,000) then held
    ~250 MB; the copy costs ~0.3 µs."""
    return bytes(memoryview(value))


def broker_urls(kafka: KafkaSettings) -> list[str]:
    return [f"kafka://{server.strip()}" for server in kafka.bootstrap_servers.split(",") if server.strip()]


def broker_credentials(kafka: KafkaSettings) -> faust.SASLCredentials | faust.SSLCredentials | None:
    """faust's form of the security settings librdkafka clients get from `KafkaSettings.client_config()`."""
    conf = kafka.client_config()
    context: ssl.SSLContext | None = None
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        context = create_ssl_context(
            cafile=conf.get("ssl.ca.location"),
            certfile=conf.get("ssl.certificate.location"),
            keyfile=conf.get("ssl.key.location"),
            password=conf.get("ssl.key.password"),
        )
    if kafka.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=conf.get("sasl.username"),
            password=conf.get("sasl.password"),
            mechanism=conf.get("sasl.mechanism", "PLAIN"),
            ssl_context=context,
        )
    return faust.SSLCredentials(context) if context is not None else None


class Routes:
    """Output topic of each input topic (queue and history stay apart all the way to the sinks), and the size
    limit of each output topic."""

    OUTPUTS = (topics.DOCS_QUEUE, topics.DOCS_HISTORY, topics.DLQ_CONVERTER)

    def __init__(self, kafka: KafkaSettings) -> None:
        self.inputs = (kafka.topic(topics.RAW_QUEUE), kafka.topic(topics.RAW_HISTORY))
        self.documents = {
            kafka.topic(topics.RAW_QUEUE): kafka.topic(topics.DOCS_QUEUE),
            kafka.topic(topics.RAW_HISTORY): kafka.topic(topics.DOCS_HISTORY),
        }
        self.dead_letters = kafka.topic(topics.DLQ_CONVERTER)
        self.limits = {kafka.topic(name): kafka.message_size.limit(name) or MIB for name in self.OUTPUTS}
        self._service = service_identity(STAGE)

    def output(self, origin: Origin, outcome: Outcome) -> Output | None:
        """What to send for one input message; None for a dropped ad."""
        if isinstance(outcome, Converted):
            out = Output(self.documents[origin.topic], outcome.key, exact(outcome.value), outcome.headers, origin)
        elif isinstance(outcome, DeadLettered):
            out = Output(self.dead_letters, outcome.key, exact(outcome.value), None, origin, outcome.reason)
        else:
            return None
        return self.fitted(out)

    def fitted(self, out: Output) -> Output:
        """`out` if it is within its topic's limit; else the dead letter of a document that says so, or the
        dead letter with only the start of the original value."""
        size, limit = out.size(), self.limits[out.topic]
        if size <= limit:
            return out
        if out.reason is None:
            problem = f"document of {size_text(size)} exceeds the {size_text(limit)} limit of {out.topic}"
            return self.dead_letter(out, MessageTooLarge(problem), TOO_LARGE)
        return self.cut(out, limit)

    def refused(self, out: Output, err: KafkaError) -> Output:
        """The dead letter of a document Kafka refused for good."""
        problem = f"Kafka refused the document for {out.topic}: {err.str()} ({err.name()})"
        return self.dead_letter(out, RefusedByKafka(problem), REFUSED)

    @staticmethod
    def cut(out: Output, max_bytes: int) -> Output:
        """A dead letter with at most `max_bytes`: only the start of the original value, marked as cut."""
        key, value = dead_letter.encode(dead_letter.decode(out.value), max_bytes=max_bytes)
        return Output(out.topic, key, value, None, out.origin, out.reason)

    def dead_letter(self, out: Output, error: Exception, reason: str) -> Output:
        details = {"reason": reason, "document_bytes": out.size()}
        letter = dead_letter.record(STAGE, error, out.origin, self._service, details=details)
        key, value = dead_letter.encode(letter, max_bytes=self.limits[self.dead_letters])
        _log_dead_letter(reason, str(error), out.origin)
        return Output(self.dead_letters, key, value, None, out.origin, reason)


class _Round(Delivery):
    """The delivery reports of one send round, sorted: acknowledged, refused for good, to be retried."""

    def __init__(self) -> None:
        super().__init__()
        self.acknowledged: list[Output] = []
        self.refused: list[tuple[Output, KafkaError]] = []
        self.retry: list[tuple[Output, KafkaError]] = []

    def reporter(self, out: Output) -> Report:
        def report(err: KafkaError | None, msg: Message) -> None:
            self.sort(out, err)
            self.report(err, msg)

        return report

    def sort(self, out: Output, err: KafkaError | None) -> None:
        if err is None:
            self.acknowledged.append(out)
        elif err.code() in REFUSALS:
            self.refused.append((out, err))
        else:
            self.retry.append((out, err))


class Publisher:
    """Sends a batch of outputs and returns, once Kafka acknowledged every one of them (or of the dead letters
    that replaced refused ones), the outputs as delivered."""

    def __init__(self, cfg: ConverterConfig, routes: Routes) -> None:
        self._producer = KafkaPublisher(
            cfg.kafka, destinations=Routes.OUTPUTS, compression=cfg.compression, linger_ms=cfg.linger_ms
        )
        self._routes = routes
        self._retry_max_s = cfg.send_retry_max_s

    async def publish(self, outputs: Sequence[Output]) -> list[Output]:
        delivered: list[Output] = []
        pending = list(outputs)
        backoff = Backoff(0.5, self._retry_max_s)  # a stop cancels this task, and with it the wait
        while pending:
            count, sent = len(pending), self._send(pending)
            while not await asyncio.to_thread(sent.wait, 60.0):
                # every message gets a report within librdkafka's delivery timeout; say why nothing moves
                log.warning("still waiting for Kafka to acknowledge %d output messages", sent.pending)
            delivered += sent.acknowledged
            pending = [self._routes.refused(out, err) for out, err in sent.refused if out.reason is None]
            retry = [out for out, _err in sent.retry]
            for out, err in sent.refused:
                if out.reason is not None:
                    log.error("Kafka refused a dead letter for %s: %s; sending it without the original", out.topic, err)
                    retry.append(self._routes.cut(out, 0))
            if retry:
                for out in retry:
                    SEND_RETRIES.labels(topic=out.topic).inc()
                delay = backoff.next()
                log.warning(
                    "%d of %d output messages not acknowledged (%s); retrying in %.1fs, input offsets held back",
                    len(retry),
                    count,
                    (sent.retry or sent.refused)[0][1].str(),
                    delay,
                )
                await asyncio.sleep(delay)
                pending += retry
        return delivered

    def _send(self, outputs: Sequence[Output]) -> _Round:
        sent = _Round()
        for out in outputs:
            try:
                self._producer.produce(out.topic, out.key, out.value, sent, out.headers, sent.reporter(out))
            except KafkaException as exc:  # refused before sending (over message.max.bytes, a bad topic...)
                sent.sort(out, exc.args[0])
        return sent

    async def close(self, timeout: float) -> None:
        await asyncio.to_thread(self._producer.close, timeout)


class Counts:
    """What became of the input messages: the prometheus counters, and the totals of the periodic summary."""

    def __init__(self) -> None:
        self.converted = 0
        self.dropped: Tally[str] = Tally()
        self.dead_lettered: Tally[str] = Tally()

    def delivered(self, outputs: Sequence[Output]) -> None:
        outcomes: Tally[tuple[str | None, str | None]] = Tally((out.origin.topic, out.reason) for out in outputs)
        for (topic, reason), count in outcomes.items():
            if reason is None:
                self.converted += count
                MESSAGES.labels(topic=topic, outcome="converted").inc(count)
            else:
                self.dead_lettered[reason] += count
                MESSAGES.labels(topic=topic, outcome="dead_lettered").inc(count)
                DEAD_LETTERS.labels(reason=reason).inc(count)

    def dropped_ads(self, topic: str, reason: str, count: int) -> None:
        self.dropped[reason] += count
        MESSAGES.labels(topic=topic, outcome="dropped").inc(count)
        ADS_DROPPED.labels(reason=reason).inc(count)

    def log_summary(self, interval_s: float) -> None:
        """One line for the last interval, then start counting again."""
        log.info(
            "last %.0f s: %d converted, %d dropped on purpose%s, %d dead-lettered%s",
            interval_s,
            self.converted,
            self.dropped.total(),
            _by_reason(self.dropped),
            self.dead_lettered.total(),
            _by_reason(self.dead_lettered),
            extra={
                "interval_s": interval_s,
                "converted": self.converted,
                "dropped": dict(self.dropped),
                "dead_lettered": dict(self.dead_lettered),
            },
        )
        self.converted = 0
        self.dropped.clear()
        self.dead_lettered.clear()


def _by_reason(tally: Tally[str]) -> str:
    return " (" + ", ".join(f"{reason} {count}" for reason, count in sorted(tally.items())) + ")" if tally else ""


def build_app(cfg: ConverterConfig, affiliations: Callable[[], Mapping[str, Any] | None]) -> faust.App:
    """The faust app with its one agent; nothing is started until a worker runs it."""
    app = faust_kafka.App(
        cfg.group_id,
        fetch_max_wait_ms=cfg.fetch_max_wait_ms,
        fetch_max_bytes=cfg.fetch_max_bytes,
        drain_timeout_s=cfg.stop_timeout_s,
        broker=broker_urls(cfg.kafka),
        broker_credentials=broker_credentials(cfg.kafka),
        store="memory://",
        datadir=cfg.datadir,
        autodiscover=False,
        web_enabled=False,
        topic_disable_leader=True,
        topic_allow_declare=False,
        broker_session_timeout=cfg.session_timeout_s,
        broker_heartbeat_interval=cfg.heartbeat_interval_s,
        broker_rebalance_timeout=max(cfg.session_timeout_s * 3, 30.0),
        broker_commit_interval=cfg.commit_interval_s,
        broker_commit_every=cfg.commit_every,
        consumer_auto_offset_reset="earliest",
        # a whole raw message of the largest size the raw topics take, in one fetch (aiokafka skips a message
        # it cannot read whole)
        consumer_max_fetch_size=cfg.kafka.message_bytes(topics.RAW_QUEUE, topics.RAW_HISTORY),
        broker_max_poll_records=cfg.records_per_poll,
        stream_buffer_maxsize=cfg.stream_buffer,
        key_serializer="raw",
        value_serializer="raw",
    )
    routes = Routes(cfg.kafka)
    source = app.topic(*routes.inputs, key_serializer="raw", value_serializer="raw")
    contexts = Contexts(cfg.reduce_running, affiliations, cfg.max_text_bytes)
    service = service_identity(STAGE)
    counts = Counts()

    def convert_batch(events: Sequence[faust.EventT]) -> list[Output]:
        context = contexts()
        batch: list[Output] = []
        dropped: Tally[tuple[str, str]] = Tally()
        for event in events:
            message = event.message
            origin = Origin(message.topic, message.partition, message.offset, message.key, message.value)
            outcome = step(message.value, context, origin, service)
            if isinstance(outcome, Dropped):
                dropped[message.topic, outcome.reason] += 1
                continue
            if isinstance(outcome, DeadLettered):
                _log_dead_letter(outcome.reason, outcome.message, origin)
            output = routes.output(origin, outcome)
            if output is not None:
                batch.append(output)
        for (topic, reason), count in dropped.items():
            counts.dropped_ads(topic, reason, count)
        return batch

    @app.agent(source, concurrency=cfg.concurrency, name="convert")
    async def convert_agent(stream: faust.StreamT) -> None:
        publisher = Publisher(cfg, routes)

        async def deliver(outputs: list[Output], events: Sequence[faust.EventT], started: float) -> None:
            counts.delivered(await publisher.publish(outputs))
            for event in events:
                await stream.ack(event)
            BATCH_SECONDS.observe(time.monotonic() - started)

        gc_tuning.freeze_startup_heap()
        in_flight: deque[asyncio.Task[None]] = deque()
        try:
            async for events in stream.noack_take(cfg.batch_size, cfg.batch_timeout_s):
                started = time.monotonic()
                outputs = convert_batch(events)
                in_flight.append(asyncio.ensure_future(deliver(outputs, events, started)))
                while in_flight and (len(in_flight) >= cfg.batches_in_flight or in_flight[0].done()):
                    await in_flight.popleft()  # re-raises a failed delivery: the worker must not go on without it
        finally:
            if in_flight:
                await asyncio.wait(in_flight, timeout=app.drain_remaining())
                for task in in_flight:
                    task.cancel()  # its inputs stay unacked and are consumed again
            await publisher.close(max(app.drain_remaining(), 1.0))

    @app.timer(cfg.summary_interval_s)
    async def summary() -> None:
        counts.log_summary(cfg.summary_interval_s)

    return app


def _log_dead_letter(reason: str, message: str, origin: Origin) -> None:
    log.warning(
        "raw message sent to the dead-letter topic: %s: %s",
        reason,
        message[:300],
        extra={"topic": origin.topic, "partition": origin.partition, "offset": origin.offset},
    )


class _Worker(faust.Worker):
    """A faust worker that keeps spider's log format instead of installing its own, draws no terminal spinner
    (its cursor-show escape began the first JSON log line), and exits within `stop_grace_s` of a signal."""

    def __init__(self, app: faust.App, cfg: ConverterConfig) -> None:
        super().__init__(app, loglevel=cfg.log_level, quiet=True, redirect_stdouts=False)
        self.spinner = None
        self._cfg = cfg
        self._stopping = Stopping(cfg.stop_grace_s)

    def _setup_logging(self) -> None:
        logs.setup("converter", self._cfg.log_level, self._cfg.log_format)

    def _on_sigterm(self) -> None:
        self._stopping.begin()
        super()._on_sigterm()

    def _on_sigint(self) -> None:
        self._stopping.begin()
        super()._on_sigint()


def run(cfg: ConverterConfig, affiliations: Callable[[], Mapping[str, Any] | None]) -> None:
    """Run one worker until SIGTERM/SIGINT; on a clean stop the acknowledged offsets are committed."""
    logs.setup("converter", cfg.log_level, cfg.log_format)
    if cfg.declare_topics:
        names = {topics.RAW_QUEUE, topics.RAW_HISTORY, topics.DOCS_QUEUE, topics.DOCS_HISTORY, topics.DLQ_CONVERTER}
        create_topics(cfg.kafka, specs=tuple(s for s in cfg.kafka.topic_specs() if s.name in names))
    app = build_app(cfg, affiliations)
    observability.serve(cfg.metrics_port, lambda: "rebalancing" if app.rebalancing else True, service="converter")
    log.info(
        "converter starting",
        extra={
            "group": cfg.group_id,
            "inputs": list(Routes(cfg.kafka).inputs),
            "brokers": cfg.kafka.bootstrap_servers,
            "conversion": compilation.STATUS,
        },
    )
    _Worker(app, cfg).execute_from_commandline()
