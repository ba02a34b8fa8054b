"""The Elasticsearch / OpenSearch target: bulk `index` requests into daily indices, shared by both kinds.

The two client libraries differ only in how a request is sent and which exceptions they raise; each kind
module (services/sinks/elasticsearch.py, opensearch.py) supplies a small `BulkClient` for that, and
everything else (routing, request body, response interpretation, templates) lives here once.

- `_id` is the document id and the op is `index`: a replay after a crash overwrites, it never duplicates.
- The body is built from the Kafka values as received, never parsed here: a value that is not a JSON object
  comes back as a per-item 400 and is dead-lettered like a mapping conflict. Newlines in a value become
  spaces, so each document stays one NDJSON line (a line break inside a value made both clusters refuse the
  whole request with HTTP 400, which would stall the partition behind it).
- Per-item 409 (version conflict) counts as written; any 429 or 5xx item, or a failed request, raises
  TargetUnavailable and the whole batch is retried (safe, thanks to `_id`).
- A per-item 400 for a mapping problem (type or shape conflict, a name the cluster refuses, the field limit)
  is re-sent with the offending unregistered top-level fields moved under `spider_unindexed`, an object the
  index does not parse (services/sinks/unindexed.py decides which; docs/indexing.md). Only these documents
  are parsed, and only after the refusal. After MAX_RESENDS re-sends, or for any other 4xx, the document is
  a rejection (dead-lettered by the runner).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

import schemas
from services.common.config import ClusterConfig
from services.common.document_message import DocMessage
from services.common.errors import ConfigError
from services.sinks import metrics, templates, unindexed
from services.sinks.config import SinkConfig
from services.sinks.errors import Rejection, TargetUnavailable

log = logging.getLogger(__name__)

QUEUE_SOURCE = "condor_queue"
# Only what classification needs: a successful response shrinks to a list of statuses.
RESPONSE_FILTER = "errors,items.*.status,items.*.error"
# Re-sends of a document refused for a mapping problem; the last one moves every unregistered field.
MAX_RESENDS = 3


class BulkClient(Protocol):
    """The kind-specific part: send requests, translating every transport/API failure to TargetUnavailable."""

    def bulk(self, body: bytes) -> Mapping[str, Any]: ...

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None: ...

    def mapping_properties(self, index: str) -> Mapping[str, Any]:
        """The top-level `properties` of an index's mapping; empty if the index does not exist."""
        ...

    def close(self) -> None: ...


def index_name(msg: DocMessage, template: str, queue_template: str | None) -> str:
    """`<template>-YYYY-MM-DD` from the document's index_date header (the UTC day of its QDate)."""
    prefix = queue_template if queue_template and msg.source == QUEUE_SOURCE else template
    return f"{prefix}-{msg.index_date}"


def properties(response: Mapping[str, Any], index: str) -> Mapping[str, Any]:
    """The top-level properties in a get-mapping response for one index."""
    return response.get(index, {}).get("mappings", {}).get("properties", {})


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


@dataclass(frozen=True, slots=True)
class Refusal:
    """One document of a bulk request the cluster refused for good (a 4xx other than 409)."""

    msg: DocMessage
    status: int
    error: Any

    @property
    def reason(self) -> str:
        return f"HTTP {self.status} {_reason(self.error)}"


def classify(batch: Sequence[DocMessage], response: Mapping[str, Any]) -> list[Refusal]:
    """Refused documents of a bulk response, or TargetUnavailable if any item must be retried."""
    if not response.get("errors"):
        return []
    items = response.get("items") or []
    if len(items) != len(batch):
        raise TargetUnavailable(f"bulk response has {len(items)} items for {len(batch)} documents")
    refusals = []
    retryable = 0
    for msg, item in zip(batch, items, strict=True):
        result = next(iter(item.values()), {})
        status = int(result.get("status", 500))
        if status < 300 or status == 409:
            continue
        if status == 429 or status >= 500:
            retryable += 1
        else:
            refusals.append(Refusal(msg, status, result.get("error")))
    if retryable:
        raise TargetUnavailable(f"{retryable} of {len(batch)} documents refused with 429/5xx")
    return refusals


@dataclass(slots=True)
class _Resend:
    """A refused document on its way through the fallback: the message the runner knows, the current body."""

    original: DocMessage
    refusal: Refusal
    body: dict[str, Any] | None = None
    moved: list[str] = dataclasses.field(default_factory=list)

    def rejection(self) -> Rejection:
        reason = self.refusal.reason
        if self.moved:
            reason += f" (after moving {len(self.moved)} fields under {schemas.UNINDEXED_FIELD}: {self.moved})"
        return Rejection(self.original, reason)


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
        # Never moved by the fallback: the converter casts registered fields, so a refusal there is a real error.
        self._fixed = frozenset(registry["fields"]) | {"metadata"}

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
        refusals = classify(batch, response)
        return self._resend_with_fields_moved(refusals) if refusals else []

    def _resend_with_fields_moved(self, refusals: list[Refusal]) -> list[Rejection]:
        """The mapping fallback (module docstring): up to MAX_RESENDS rounds, one bulk request each."""
        rejections: list[Rejection] = []
        pending = [_Resend(r.msg, r) for r in refusals]
        for attempt in range(1, MAX_RESENDS + 1):
            mappings: dict[str, Mapping[str, Any]] = {}
            batch: list[tuple[_Resend, DocMessage]] = []
            for resend in pending:
                msg = self._moved(resend, mappings, last_resort=attempt == MAX_RESENDS)
                if msg is None:
                    rejections.append(resend.rejection())
                else:
                    batch.append((resend, msg))
            if not batch:
                return rejections
            sent = [msg for _, msg in batch]
            response = self.client.bulk(bulk_body(sent, self.template, self.queue_template))
            refused = {id(r.msg): r for r in classify(sent, response)}
            pending = []
            for resend, msg in batch:
                refusal = refused.get(id(msg))
                if refusal is not None:
                    resend.refusal = refusal
                    pending.append(resend)
        return rejections + [resend.rejection() for resend in pending]

    def _moved(
        self, resend: _Resend, mappings: dict[str, Mapping[str, Any]], *, last_resort: bool
    ) -> DocMessage | None:
        """The refused document with more fields moved under the unindexed object, None if that cannot help."""
        reason = unindexed.mapping_error(resend.refusal.error)
        if reason is None:
            return None
        if resend.body is None:
            try:
                resend.body = json.loads(resend.original.value)  # not orjson: it turns ints beyond 64 bits to floats
            except ValueError:
                return None
            if not isinstance(resend.body, dict):
                return None
        index = index_name(resend.original, self.template, self.queue_template)
        if index not in mappings:
            mappings[index] = self.client.mapping_properties(index)
        names = unindexed.fields_to_move(
            resend.body, resend.refusal.error, mappings[index], self._fixed, last_resort=last_resort
        )
        if not names:
            return None
        resend.body = unindexed.move(resend.body, names)
        resend.moved += names
        metrics.FIELDS_MOVED_DOCUMENTS.labels(self.name, reason).inc()
        metrics.FIELDS_MOVED.labels(self.name, reason).inc(len(names))
        return dataclasses.replace(resend.original, value=json.dumps(resend.body, separators=(",", ":")).encode())

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
