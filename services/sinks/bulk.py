"""The Elasticsearch / OpenSearch target: bulk `index` requests into daily indices, shared by both kinds.

The two client libraries differ only in how a request is sent and which exceptions they raise; each kind
module (services/sinks/elasticsearch.py, opensearch.py) supplies a small `BulkClient` for that, and
everything else (routing, request body, response interpretation, templates) lives here once.

- `_id` is the document id and the op is `index`: a replay after a crash overwrites, it never duplicates.
- The body is built from the Kafka values as received, never parsed here: a value that is not a JSON object
  comes back as a per-item 400 and is dead-lettered like a mapping conflict. Newlines in a value become
  spaces, so each document stays one NDJSON line (a line break inside a value made both clusters refuse the
  whole request with HTTP 400, which would stall the partition behind it).
- Per-item 409 (version conflict) counts as written; other 4xx items are rejections (dead-lettered by the
  runner); any 429 or 5xx item, or a failed request, raises TargetUnavailable and the whole batch is
  retried (safe, thanks to `_id`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import orjson

from services.common.config import ClusterConfig
from services.common.document_message import DocMessage
from services.common.errors import ConfigError
from services.sinks import templates
from services.sinks.config import SinkConfig
from services.sinks.errors import Rejection, TargetUnavailable

log = logging.getLogger(__name__)

QUEUE_SOURCE = "condor_queue"
# Only what classification needs: a successful response shrinks to a list of statuses.
RESPONSE_FILTER = "errors,items.*.status,items.*.error"


class BulkClient(Protocol):
    """The kind-specific part: send requests, translating every transport/API failure to TargetUnavailable."""

    def bulk(self, body: bytes) -> Mapping[str, Any]: ...

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


def index_name(msg: DocMessage, template: str, queue_template: str | None) -> str:
    """`<template>-YYYY-MM-DD` from the document's index_date header (the UTC day of its QDate)."""
    prefix = queue_template if queue_template and msg.source == QUEUE_SOURCE else template
    return f"{prefix}-{msg.index_date}"


def bulk_body(batch: Sequence[DocMessage], template: str, queue_template: str | None) -> bytes:
    parts: list[bytes] = []
    for msg in batch:
        action = {"index": {"_index": index_name(msg, template, queue_template), "_id": msg.id}}
        parts.append(orjson.dumps(action))
        # A newline between JSON tokens is whitespace: a space keeps the document on one line, same meaning.
        # (A raw newline inside a string is invalid JSON; it would be indexed as a space.)
        parts.append(msg.value.replace(b"\n", b" "))
    parts.append(b"")
    return b"\n".join(parts)


def _reason(error: Any) -> str:
    if not isinstance(error, Mapping):
        return str(error)
    reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"
    cause = error.get("caused_by")
    if isinstance(cause, Mapping) and cause.get("reason"):
        reason += f" (caused by {cause.get('type', 'error')}: {cause['reason']})"
    return reason


def classify(batch: Sequence[DocMessage], response: Mapping[str, Any]) -> list[Rejection]:
    """Rejections of a bulk response, or TargetUnavailable if any item must be retried."""
    if not response.get("errors"):
        return []
    items = response.get("items") or []
    if len(items) != len(batch):
        raise TargetUnavailable(f"bulk response has {len(items)} items for {len(batch)} documents")
    rejections = []
    retryable = 0
    for msg, item in zip(batch, items, strict=True):
        result = next(iter(item.values()), {})
        status = int(result.get("status", 500))
        if status < 300 or status == 409:
            continue
        if status == 429 or status >= 500:
            retryable += 1
        else:
            rejections.append(Rejection(msg, f"HTTP {status} {_reason(result.get('error'))}"))
    if retryable:
        raise TargetUnavailable(f"{retryable} of {len(batch)} documents refused with 429/5xx")
    return rejections


class BulkTarget:
    """A search cluster as a sink target (see the module docstring)."""

    parse_body = False

    def __init__(self, name: str, client: BulkClient, config: SinkConfig, registry: Mapping[str, Any]) -> None:
        self.name = name
        self.client = client
        self.template = config.index_template
        self.queue_template = config.queue_index_template
        # The queue prefix usually extends the main one (cms-queue-* also matches cms-*): it gets the higher
        # priority, as composable templates of equal priority must not overlap.
        prefixes = [(config.index_template, config.template_priority)]
        if config.queue_index_template:
            prefixes.append((config.queue_index_template, config.template_priority + 1))
        self._template_bodies = {
            prefix: templates.index_template(
                registry,
                prefix,
                priority=priority,
                shards=config.number_of_shards,
                replicas=config.number_of_replicas,
            )
            for prefix, priority in prefixes
        }
        self._initialized = False
        self._init_lock = threading.Lock()

    def initialize(self) -> None:
        """Install (or update) the composable index templates; idempotent."""
        with self._init_lock:
            for prefix, body in self._template_bodies.items():
                self.client.put_index_template(prefix, body)
                log.info("index template %s installed for %s-*", prefix, prefix, extra={"target": self.name})
            self._initialized = True

    def write(self, batch: Sequence[DocMessage]) -> list[Rejection]:
        if not batch:
            return []
        if not self._initialized:
            self.initialize()
        response = self.client.bulk(bulk_body(batch, self.template, self.queue_template))
        return classify(batch, response)

    def close(self) -> None:
        self.client.close()


def cluster_targets(
    config: SinkConfig,
    kind: str,
    short: str,
    cluster: str | None,
    make_client: Callable[[ClusterConfig, float], BulkClient],
) -> list[BulkTarget]:
    """One target per es_conf.json cluster of `kind` (or only the one named `cluster`), named `<short>-<name>`."""
    clusters = [c for c in config.es_clusters() if c.kind == kind]
    if cluster is not None:
        clusters = [c for c in clusters if c.name == cluster]
        if not clusters:
            raise ConfigError(f"no {kind} cluster named {cluster!r}", config.resolve(config.es_conf_file))
    if not clusters:
        raise ConfigError(f"no {kind} cluster configured", config.resolve(config.es_conf_file))
    registry = templates.load_registry()
    return [
        BulkTarget(f"{short}-{c.name}", make_client(c, config.request_timeout_s), config, registry) for c in clusters
    ]
