"""History checkpoints: the newest EnteredCurrentStatus read per schedd, kept in a compacted Kafka topic.

Kafka holds them so a collector keeps no local state (containers, fail-over). The reference's checkpoint.json
(`{"schedd name": epoch_seconds}`) is the import/export format: migration in, backups out.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition

from services.common import version
from services.common.config import KafkaSettings, read_json
from services.common.errors import ConfigError, SpiderError
from services.common.topics import CHECKPOINTS

log = logging.getLogger(__name__)


class CheckpointError(SpiderError):
    """The checkpoint topic could not be read or written."""


def parse_reference(data: object, source: str = "checkpoint.json") -> dict[str, float]:
    """Validate the reference format: an object of schedd name -> epoch seconds (int or float)."""
    if not isinstance(data, dict):
        raise ConfigError('expected an object of "schedd name": epoch seconds', source)
    checkpoints: dict[str, float] = {}
    for name, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"checkpoint of {name!r} is not epoch seconds: {value!r}", source)
        checkpoints[name] = value
    return checkpoints


def read_reference(path: Path) -> dict[str, float]:
    return parse_reference(read_json(path), str(path))


def dump_reference(checkpoints: Mapping[str, float]) -> bytes:
    """checkpoint.json text, names sorted so backups diff cleanly."""
    return orjson.dumps(dict(sorted(checkpoints.items())), option=orjson.OPT_INDENT_2) + b"\n"


@dataclass(frozen=True)
class ImportPlan:
    """What importing a checkpoint.json changes in the checkpoint topic, so it can be shown before it is done."""

    added: dict[str, float]
    changed: dict[str, tuple[float, float]]
    removed: dict[str, float]
    unchanged: int

    @property
    def writes(self) -> dict[str, float]:
        return self.added | {name: new for name, (_old, new) in self.changed.items()}


def plan_import(current: Mapping[str, float], incoming: Mapping[str, float], *, replace: bool) -> ImportPlan:
    """Merge keeps the checkpoints of schedds the file does not list; replace removes them (a full restore)."""
    added = {name: value for name, value in incoming.items() if name not in current}
    changed = {
        name: (current[name], value) for name, value in incoming.items() if name in current and current[name] != value
    }
    removed = {name: value for name, value in current.items() if name not in incoming} if replace else {}
    return ImportPlan(added, changed, removed, len(incoming) - len(added) - len(changed))


def encode(schedd: str, checkpoint: float, now: float) -> tuple[bytes, bytes]:
    value = {"schedd": schedd, "checkpoint": checkpoint, "updated_at": now, "host": version.hostname()}
    return schedd.encode(), orjson.dumps(value)


def decode(value: bytes | None) -> float | None:
    """The checkpoint of one record; None for a tombstone or a record we cannot read (logged)."""
    if value is None:
        return None
    try:
        checkpoint = orjson.loads(value)["checkpoint"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        log.warning("unreadable checkpoint record ignored: %r", value[:200])
        return None
    return checkpoint if isinstance(checkpoint, int | float) and not isinstance(checkpoint, bool) else None


class CheckpointStore:
    """Reads the whole compacted topic (latest record per schedd wins) and writes acknowledged records."""

    def __init__(self, kafka: KafkaSettings, timeout_s: float = 30.0) -> None:
        self.kafka = kafka
        self.topic = kafka.topic(CHECKPOINTS)
        self.timeout_s = timeout_s
        self._producer: Producer | None = None

    def load(self) -> dict[str, float]:
        consumer = Consumer(
            self.kafka.client_config()
            | {
                "group.id": f"spider-checkpoint-reader-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            }
        )
        deadline = time.monotonic() + self.timeout_s
        try:
            while True:
                try:
                    return self._read_all(consumer)
                except KafkaException as exc:
                    error: KafkaError = exc.args[0]
                    if not error.retriable() and error.code() != KafkaError.NOT_LEADER_FOR_PARTITION:
                        raise CheckpointError(f"cannot read checkpoints from {self.topic}: {error.str()}") from None
                    if time.monotonic() > deadline:
                        raise CheckpointError(f"cannot read checkpoints from {self.topic}: {error.str()}") from None
                    time.sleep(0.2)  # a new topic's leader is being elected, or a broker is moving
        finally:
            consumer.close()

    def _read_all(self, consumer: Consumer) -> dict[str, float]:
        metadata = consumer.list_topics(self.topic, timeout=self.timeout_s)
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            raise CheckpointError(f"checkpoint topic {self.topic} does not exist: run `spider topics create`")
        ends = {}
        for partition in topic.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(self.topic, partition), timeout=self.timeout_s)
            if high > low:
                ends[partition] = high
        checkpoints: dict[str, float] = {}
        if not ends:
            return checkpoints
        consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in ends])
        deadline = time.monotonic() + self.timeout_s
        while ends:
            if time.monotonic() > deadline:
                raise CheckpointError(f"timed out reading checkpoints from {self.topic}")
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() != KafkaError._PARTITION_EOF:
                    raise CheckpointError(f"cannot read checkpoints from {self.topic}: {msg.error().str()}")
                ends.pop(msg.partition(), None)
                continue
            name = msg.key().decode() if msg.key() else None
            if name is not None:
                value = decode(msg.value())
                if value is None:
                    checkpoints.pop(name, None)
                else:
                    checkpoints[name] = value
            if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                ends.pop(msg.partition(), None)
        return checkpoints

    def save(self, checkpoints: Mapping[str, float], now: float | None = None, remove: Iterable[str] = ()) -> None:
        """Write checkpoints (and tombstones for `remove`) and return only once Kafka acknowledged every one."""
        if self._producer is None:
            self._producer = Producer(self.kafka.client_config() | {"enable.idempotence": True, "acks": "all"})
        failures: list[str] = []

        def report(err, msg) -> None:
            if err is not None:
                failures.append(f"{msg.key().decode()}: {err.str()}")

        stamp = time.time() if now is None else now
        for name, value in checkpoints.items():
            key, body = encode(name, value, stamp)
            self._producer.produce(self.topic, body, key, on_delivery=report)
        for name in remove:
            self._producer.produce(self.topic, None, name.encode(), on_delivery=report)
        remaining = self._producer.flush(self.timeout_s)
        if remaining or failures:
            reason = failures[0] if failures else f"{remaining} not acknowledged within {self.timeout_s:.0f} s"
            raise CheckpointError(f"checkpoints not stored in {self.topic}: {reason}")
