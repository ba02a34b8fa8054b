"""`spider converter`: the faust-streaming service, raw ads in, documents out.

At-least-once without loss: the agent reads a batch with manual acks (`noack_take`), converts it and hands
every output to librdkafka; a delivery task waits until Kafka acknowledged all of them (failed sends are
retried, never skipped) and only then acks that batch's input events. faust commits only the highest
contiguous acked offset, so a crash or SIGKILL at any point replays the unacknowledged tail: duplicates are
possible, loss is not. Document ids are deterministic, so a duplicate overwrites the same document in the sinks.

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
from typing import Any

import faust
from aiokafka.helpers import create_ssl_context
from confluent_kafka import KafkaError, Message
from prometheus_client import Counter, Histogram

from services import compilation
from services.collector.publisher import Delivery
from services.collector.publisher import Publisher as KafkaPublisher
from services.common import gc_tuning, logs, observability, topics
from services.common.config import KafkaSettings
from services.common.dead_letter import Origin, service_identity
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
SEND_RETRIES = Counter("spider_converter_send_retries", "Output sends that failed and were retried", ["topic"])
BATCH_SECONDS = Histogram(
    "spider_converter_batch_duration_seconds",
    "Time to convert a batch and have all its outputs acknowledged",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

Output = tuple[str, bytes | None, bytes, Sequence[tuple[str, bytes]] | None]


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
    """Output topic of each input topic; queue and history stay apart all the way to the sinks."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.inputs = (kafka.topic(topics.RAW_QUEUE), kafka.topic(topics.RAW_HISTORY))
        self.documents = {
            kafka.topic(topics.RAW_QUEUE): kafka.topic(topics.DOCS_QUEUE),
            kafka.topic(topics.RAW_HISTORY): kafka.topic(topics.DOCS_HISTORY),
        }
        self.dead_letters = kafka.topic(topics.DLQ_CONVERTER)

    def output(self, source_topic: str, outcome: Outcome) -> Output | None:
        if isinstance(outcome, Converted):
            return self.documents[source_topic], outcome.key, outcome.value, outcome.headers
        if isinstance(outcome, DeadLettered):
            return self.dead_letters, outcome.key, outcome.value, None
        return None


def _outcome_name(outcome: Outcome) -> str:
    if isinstance(outcome, Converted):
        return "converted"
    return "dead_lettered" if isinstance(outcome, DeadLettered) else "dropped"


class _Resends(Delivery):
    """The delivery reports of one send round, keeping the messages Kafka did not acknowledge."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[Output] = []

    def report(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.refused.append((msg.topic(), msg.key(), msg.value(), msg.headers()))
        super().report(err, msg)


class Publisher:
    """Sends a batch of outputs and returns only once Kafka acknowledged every one of them."""

    def __init__(self, cfg: ConverterConfig) -> None:
        self._producer = KafkaPublisher(cfg.kafka, compression=cfg.compression, linger_ms=cfg.linger_ms)
        self._retry_max_s = cfg.send_retry_max_s

    async def publish(self, outputs: Sequence[Output]) -> None:
        pending = outputs
        delay = 0.5
        while pending:
            delivery = _Resends()
            for topic, key, value, headers in pending:
                self._producer.produce(topic, key, value, delivery, headers)
            while not await asyncio.to_thread(delivery.wait, 60.0):
                # every message gets a report within librdkafka's delivery timeout; say why nothing moves
                log.warning("still waiting for Kafka to acknowledge %d output messages", len(pending))
            if not delivery.refused:
                return
            for out in delivery.refused:
                SEND_RETRIES.labels(topic=out[0]).inc()
            log.warning(
                "%d of %d output messages not acknowledged (%s); retrying in %.1fs, input offsets held back",
                len(delivery.refused),
                len(pending),
                delivery.first_error,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._retry_max_s)
            pending = delivery.refused

    async def close(self) -> None:
        await asyncio.to_thread(self._producer.close, 10.0)


def build_app(cfg: ConverterConfig, affiliations: Callable[[], Mapping[str, Any] | None]) -> faust.App:
    """The faust app with its one agent; nothing is started until a worker runs it."""
    app = faust_kafka.App(
        cfg.group_id,
        fetch_max_wait_ms=cfg.fetch_max_wait_ms,
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
        key_serializer="raw",
        value_serializer="raw",
    )
    routes = Routes(cfg.kafka)
    source = app.topic(*routes.inputs, key_serializer="raw", value_serializer="raw")
    contexts = Contexts(cfg.reduce_running, affiliations)
    service = service_identity(STAGE)

    def convert_batch(events: Sequence[faust.EventT]) -> list[Output]:
        context = contexts()
        batch: list[Output] = []
        outcomes: Tally[tuple[str, str]] = Tally()
        for event in events:
            message = event.message
            origin = Origin(message.topic, message.partition, message.offset, message.key)
            outcome = step(message.value, context, origin, service)
            outcomes[message.topic, _outcome_name(outcome)] += 1
            _log_outcome(outcome, origin)
            output = routes.output(message.topic, outcome)
            if output is not None:
                batch.append(output)
        for (topic, outcome_name), count in outcomes.items():
            MESSAGES.labels(topic=topic, outcome=outcome_name).inc(count)
        return batch

    @app.agent(source, concurrency=cfg.concurrency, name="convert")
    async def convert_agent(stream: faust.StreamT) -> None:
        publisher = Publisher(cfg)

        async def deliver(outputs: list[Output], events: Sequence[faust.EventT], started: float) -> None:
            await publisher.publish(outputs)
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
                await asyncio.wait(in_flight, timeout=cfg.stop_timeout_s)
                for task in in_flight:
                    task.cancel()  # its inputs stay unacked and are consumed again
            await publisher.close()

    return app


def _log_outcome(outcome: Outcome, origin: Origin) -> None:
    if isinstance(outcome, DeadLettered):
        DEAD_LETTERS.labels(reason=outcome.reason).inc()
        log.warning(
            "raw message sent to the dead-letter topic: %s: %s",
            outcome.reason,
            outcome.message[:300],
            extra={"topic": origin.topic, "partition": origin.partition, "offset": origin.offset},
        )
    elif isinstance(outcome, Dropped):
        log.debug("ad dropped by the rules", extra={"job": outcome.job_id})


class _Worker(faust.Worker):
    """A faust worker that keeps spider's log format instead of installing its own."""

    def __init__(self, app: faust.App, cfg: ConverterConfig) -> None:
        super().__init__(app, loglevel=cfg.log_level, quiet=True, redirect_stdouts=False)
        self._cfg = cfg

    def _setup_logging(self) -> None:
        logs.setup("converter", self._cfg.log_level, self._cfg.log_format)


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
