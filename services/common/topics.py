"""Every Kafka topic of the pipeline, with the settings `spider topics create` gives it.

Flow: raw.queue / raw.history (collector) -> converter -> docs.queue / docs.history -> sinks.
Names are relative; the configured prefix (default "spider.") is prepended.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    purpose: str
    partitions: int = 4
    retention_ms: int = 7 * DAY_MS
    compacted: bool = False
    max_message_bytes: int | None = None  # Kafka's max.message.bytes; the broker's default (1 MB) if None
    extra: dict[str, str] = field(default_factory=dict)

    def kafka_config(self) -> dict[str, str]:
        conf = {"retention.ms": str(-1 if self.compacted else self.retention_ms), **self.extra}
        if self.max_message_bytes is not None:
            conf["max.message.bytes"] = str(self.max_message_bytes)
        conf["cleanup.policy"] = "compact" if self.compacted else "delete"
        return conf


RAW_QUEUE = "raw.queue"
RAW_HISTORY = "raw.history"
DOCS_QUEUE = "docs.queue"
DOCS_HISTORY = "docs.history"
DLQ_CONVERTER = "dlq.converter"
DLQ_SINKS = "dlq.sinks"
CHECKPOINTS = "checkpoints"
PURGED_RELEASES = "purged.releases"

TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(RAW_QUEUE, "queue ads as polled, one message per job per snapshot"),
    TopicSpec(RAW_HISTORY, "finished-job ads read from schedd history"),
    TopicSpec(DOCS_QUEUE, "converted queue documents"),
    TopicSpec(DOCS_HISTORY, "converted history documents"),
    TopicSpec(DLQ_CONVERTER, "raw messages the converter could not turn into a document", retention_ms=30 * DAY_MS),
    TopicSpec(DLQ_SINKS, "documents a target rejected, with the reason", retention_ms=30 * DAY_MS),
    TopicSpec(CHECKPOINTS, "per-schedd history checkpoints, keyed by schedd name", partitions=1, compacted=True),
    TopicSpec(
        PURGED_RELEASES, "git hashes of purged releases, whose documents every sink skips", partitions=1, compacted=True
    ),
)
