"""History checkpoints: the newest EnteredCurrentStatus read per schedd, kept in a compacted Kafka topic.

Kafka holds them so a collector keeps no local state (containers, fail-over). The reference's checkpoint.json
(`{"schedd name": epoch_seconds}`) is the import/export format: migration in, backups out.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from services.common import kafka as kafka_clients
from services.common import version
from services.common.compacted import CompactedTable
from services.common.config import KafkaSettings, read_json
from services.common.errors import ConfigError
from services.common.topics import CHECKPOINTS

log = logging.getLogger(__name__)


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
    """The checkpoints as a compacted-topic table: the latest record per schedd wins."""

    def __init__(self, kafka: KafkaSettings, timeout_s: float = 30.0) -> None:
        self.topic = kafka.topic(CHECKPOINTS)
        self._table = CompactedTable(kafka, self.topic, timeout_s)
        self._ready = False

    def load(self) -> dict[str, float]:
        """Every schedd's checkpoint; the first load waits (bounded) until Kafka is ready, so a just-started Kafka
        is waited for (later loads need no admin client, which is best kept out of a running service)."""
        if not self._ready:
            kafka_clients.ready(kafka_clients.admin(self._table.kafka), self._table.kafka, self._table.timeout_s)
            self._ready = True
        try:
            rows = self._table.read()
        finally:
            self._table.close_consumer()
        checkpoints = {name: decode(value) for name, value in rows.items()}
        return {name: value for name, value in checkpoints.items() if value is not None}

    def save(self, checkpoints: Mapping[str, float], now: float | None = None, remove: Iterable[str] = ()) -> None:
        """Write checkpoints (and tombstones for `remove`) and return only once Kafka acknowledged every one."""
        stamp = time.time() if now is None else now
        rows: dict[str, bytes | None] = {name: encode(name, value, stamp)[1] for name, value in checkpoints.items()}
        rows.update(dict.fromkeys(remove))
        self._table.write(rows)
