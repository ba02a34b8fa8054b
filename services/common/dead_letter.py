"""Dead-letter records (schemas/dead_letter.v1.schema.json): what a stage could not process, and why.

The original bytes travel base64-encoded, untouched, so a record can be replayed once the cause is fixed;
the Kafka key of the record is the original key, so records of one job stay in one partition. A record that
would exceed its topic's size limit keeps only the start of the original value, with the marker
`details.original_cut` ({"value_bytes": size, "kept_bytes": kept}); its coordinates (topic, partition,
offset) still say where the whole message is, for as long as that topic keeps it.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from schemas import DEAD_LETTER_SCHEMA
from services.common import version

CUT = "original_cut"


class MalformedDeadLetter(ValueError):
    """The bytes are not a dead-letter record of a schema version we read."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the failed message came from; topic/partition/offset are None for input read from a file."""

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: bytes | None = None
    value: bytes | None = None
    headers: Sequence[tuple[str, bytes | None]] = ()


@dataclass(frozen=True, slots=True)
class DeadLetter:
    stage: str
    reason: str
    error_type: str
    origin: Origin
    time: float
    service: dict[str, str]
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def cut(self) -> bool:
        """Whether the record holds only the start of the original value (it cannot be replayed from here)."""
        return CUT in self.details


def service_identity(name: str) -> dict[str, str]:
    return {
        "name": name,
        "version": version.package_version(),
        "git_hash": version.git_hash(),
        "host": version.hostname(),
    }


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: Any, what: str) -> bytes | None:
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise MalformedDeadLetter(f"{what} is not base64") from None


def record(
    stage: str,
    error: BaseException | str,
    origin: Origin,
    service: Mapping[str, str],
    *,
    details: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> DeadLetter:
    """A dead letter for `origin`; an exception gives both the reason and the error type."""
    reason = error if isinstance(error, str) else str(error) or type(error).__name__
    error_type = "Error" if isinstance(error, str) else type(error).__name__
    return DeadLetter(
        stage=stage,
        reason=reason,
        error_type=error_type,
        origin=origin,
        time=time.time() if now is None else now,
        service=dict(service),
        details=dict(details or {}),
    )


def encode(letter: DeadLetter, max_bytes: int | None = None) -> tuple[bytes | None, bytes]:
    """(key, value) of the Kafka message; the key is the original message's key. With `max_bytes`, a record
    that would be larger keeps only as much of the original value as fits, marked as cut."""
    origin = letter.origin
    original: dict[str, Any] = {
        "topic": origin.topic,
        "partition": origin.partition,
        "offset": origin.offset,
        "key_b64": _b64(origin.key),
        "value_b64": _b64(origin.value),
    }
    if origin.headers:
        original["headers"] = {name: _b64(value) for name, value in origin.headers}
    body: dict[str, Any] = {
        "schema": DEAD_LETTER_SCHEMA,
        "stage": letter.stage,
        "reason": letter.reason,
        "error_type": letter.error_type,
        "original": original,
        "time": letter.time,
        "service": letter.service,
    }
    if letter.details:
        body["details"] = letter.details
    value = orjson.dumps(body, default=str)
    if max_bytes is None or len(value) <= max_bytes or not origin.value:
        return origin.key, value
    return origin.key, _cut(body, origin.value, len(value) - max_bytes)


def _cut(body: dict[str, Any], original: bytes, excess: int) -> bytes:
    """The record with the start of the original value only, `excess` bytes (and the marker's) shorter."""
    room = len(body["original"]["value_b64"]) - excess - 100  # 100: the marker
    kept = max(0, room) // 4 * 3
    body["original"]["value_b64"] = _b64(original[:kept])
    body["details"] = {**body.get("details", {}), CUT: {"value_bytes": len(original), "kept_bytes": kept}}
    return orjson.dumps(body, default=str)


def decode(value: bytes) -> DeadLetter:
    """Parse a dead-letter record back, with the original bytes restored (for inspection and replay)."""
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise MalformedDeadLetter(f"not JSON: {exc}") from None
    if not isinstance(body, dict) or body.get("schema") != DEAD_LETTER_SCHEMA:
        raise MalformedDeadLetter(f"not a {DEAD_LETTER_SCHEMA} record")
    original = body.get("original")
    if not isinstance(original, dict):
        raise MalformedDeadLetter("'original' is not an object")
    headers = tuple((k, _unb64(v, f"header {k!r}")) for k, v in (original.get("headers") or {}).items())
    return DeadLetter(
        stage=body.get("stage", ""),
        reason=body.get("reason", ""),
        error_type=body.get("error_type", ""),
        origin=Origin(
            topic=original.get("topic"),
            partition=original.get("partition"),
            offset=original.get("offset"),
            key=_unb64(original.get("key_b64"), "key_b64"),
            value=_unb64(original.get("value_b64"), "value_b64"),
            headers=headers,
        ),
        time=body.get("time", 0.0),
        service=body.get("service") or {},
        details=body.get("details") or {},
    )
