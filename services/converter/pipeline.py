"""One conversion step, bytes in -> document message, dead letter or nothing; shared by `spider converter`
and `spider convert` so the service and the offline tool cannot drift apart.

The step never raises: a message that is not a raw envelope, an ad the rules reject, and even a bug in a
rule all become dead letters carrying the original bytes, so one bad ad never stops the stream.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from services.common import dead_letter, document_message, raw_message, version
from services.common.dead_letter import Origin
from services.common.document_message import Headers
from services.converter.convert import ConversionContext, ConversionError, convert
from services.converter.sanitize import TEXT_LIMIT_BYTES

log = logging.getLogger(__name__)

STAGE = "converter"
FailureReason = Literal["malformed_envelope", "conversion_error", "internal_error"]
DropReason = Literal["root_task"]


@dataclass(slots=True)  # not frozen: one per message, and a frozen init costs a call per field
class Converted:
    key: bytes
    value: bytes
    headers: Headers
    source: str


@dataclass(frozen=True, slots=True)
class DeadLettered:
    """`reason` is a small fixed set (a metric label); the record holds the full error text."""

    reason: FailureReason
    message: str
    key: bytes | None
    value: bytes


@dataclass(frozen=True, slots=True)
class Dropped:
    """The rules chose not to publish this ad: not an error. `reason` is a small fixed set (a metric label);
    today the rules drop only TaskType ROOT ads (DAG roots), see `convert`."""

    job_id: str | None
    reason: DropReason = "root_task"


Outcome = Converted | DeadLettered | Dropped


class Contexts:
    """The conversion context for the next batch: fixed identity and settings, affiliations as currently on disk."""

    def __init__(
        self,
        reduce_running: bool,
        affiliations: Callable[[], Mapping[str, Any] | None],
        max_text_bytes: int = TEXT_LIMIT_BYTES,
    ) -> None:
        self._affiliations = affiliations
        self._identity = {
            "git_hash": version.git_hash(),
            "hostname": version.hostname(),
            "username": version.username(),
            "converter_version": version.package_version(),
        }
        self._settings = {"reduce_running": reduce_running, "max_text_bytes": max_text_bytes}
        self._current: ConversionContext | None = None

    def __call__(self) -> ConversionContext:
        table = self._affiliations()
        if self._current is None or self._current.affiliations is not table:
            self._current = ConversionContext(affiliations=table, **self._settings, **self._identity)
        return self._current


def step(value: bytes | None, context: ConversionContext, origin: Origin, service: Mapping[str, str]) -> Outcome:
    """Turn one raw message into its output; `origin` says where `value` came from, for dead letters."""
    reason: FailureReason
    try:
        if value is None:
            raise raw_message.MalformedMessage("empty message (tombstone)")
        raw = raw_message.decode(value)
        doc = convert(raw, context)
        if doc is None:
            return Dropped(raw.global_job_id)
        key, body, headers = document_message.encode(doc, git_hash=context.git_hash)
        return Converted(key, body, headers, doc.source)
    except raw_message.MalformedMessage as exc:
        reason, error = "malformed_envelope", exc
    except ConversionError as exc:
        reason, error = "conversion_error", exc
    except Exception as exc:
        log.exception("conversion rule crashed; ad sent to the dead-letter topic", extra=_where(origin))
        reason, error = "internal_error", exc
    letter = dead_letter.record(STAGE, error, replace(origin, value=value), service, details={"reason": reason})
    key, record = dead_letter.encode(letter)
    return DeadLettered(reason, letter.reason, key, record)


def _where(origin: Origin) -> dict[str, object]:
    return {"topic": origin.topic, "partition": origin.partition, "offset": origin.offset}
