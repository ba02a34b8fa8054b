"""Prometheus metrics of the sinks (names follow docs/metrics.md; `target` is the target's name)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DOCUMENTS = Counter(
    "spider_sink_documents",
    "Documents handled by a sink, by outcome: in (consumed), out (accepted by the target), rejected, undecodable, "
    "skipped (re-driven for other targets)",
    ["topic", "target", "outcome"],
)
BULK_DURATION = Histogram(
    "spider_sink_bulk_duration_seconds",
    "Duration of one successful write of a batch to the target",
    ["target"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
BATCH_SIZE = Histogram(
    "spider_sink_batch_documents",
    "Documents per batch written",
    ["target"],
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000),
)
RETRIES = Counter("spider_sink_retries", "Batch writes retried because the target was unavailable", ["target"])
DEAD_LETTERS = Counter("spider_sink_dead_letters", "Dead-letter records written, by reason class", ["target", "reason"])
OUTAGE = Gauge("spider_sink_target_unavailable", "1 while the target is unavailable and consumption paused", ["target"])
OUTAGES = Counter("spider_sink_outages", "Times a target became unavailable", ["target"])
LAG = Gauge(
    "spider_sink_consumer_lag_messages", "Messages between the committed offset and the end", ["topic", "target"]
)
IN_FLIGHT = Gauge("spider_sink_in_flight_batches", "Batches being written", ["target"])
FIELDS_MOVED_DOCUMENTS = Counter(
    "spider_sink_fields_moved_documents",
    "Documents re-sent with fields moved under spider_unindexed after a mapping refusal (one per re-send), "
    "by reason: conflict (type or shape of a field, a refused name), field_limit",
    ["target", "reason"],
)
FIELDS_MOVED = Counter(
    "spider_sink_fields_moved", "Fields moved under spider_unindexed by those re-sends, by reason", ["target", "reason"]
)
