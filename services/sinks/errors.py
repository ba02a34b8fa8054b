"""What a target reports back to the runner: per-document rejections and whole-batch unavailability."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.document_message import DocMessage


class TargetUnavailable(Exception):
    """The target could not take the batch now (connection refused, 429, 5xx, broker down).

    The runner retries the whole batch with backoff, without limit, and pauses consumption meanwhile; targets
    must therefore make writes idempotent (ES/OpenSearch `_id`, AMQ consumers deduplicating on `_id`).
    The message must not carry credentials (no URLs with user:password).
    """


@dataclass(frozen=True, slots=True)
class Rejection:
    """One document the target refused for good (mapping conflict, parse error, schema violation)."""

    msg: DocMessage
    reason: str
