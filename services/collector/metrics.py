"""Prometheus metrics of the collector; every per-schedd series is labelled with the schedd name."""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter, Gauge, push_to_gateway

ADS_PUBLISHED = Counter(
    "spider_collector_ads_published_total",
    "Ads acknowledged by Kafka, by kind (queue, history, file) and schedd",
    ["kind", "schedd"],
)
DELIVERY_FAILURES = Counter(
    "spider_collector_delivery_failures_total", "Ads Kafka did not acknowledge", ["kind", "schedd"]
)
POLL_FAILURES = Counter(
    "spider_collector_poll_failures_total",
    "Polls of a schedd that failed, by reason (error, timeout, delivery, busy, budget)",
    ["kind", "schedd", "reason"],
)
COLLECTOR_FAILURES = Counter(
    "spider_collector_collector_failures_total", "Collector hosts that could not be queried", ["collector"]
)
LAST_SUCCESS = Gauge(
    "spider_collector_last_success_timestamp_seconds",
    "End of the last successful poll of a schedd",
    ["kind", "schedd"],
)
POLL_DURATION = Gauge(
    "spider_collector_poll_duration_seconds", "Duration of the last poll of a schedd", ["kind", "schedd"]
)
SNAPSHOT_SIZE = Gauge("spider_collector_queue_snapshot_ads", "Ads in the last queue snapshot of a schedd", ["schedd"])
CHECKPOINT_AGE = Gauge(
    "spider_collector_checkpoint_age_seconds", "How far behind now a schedd's history checkpoint is", ["schedd"]
)
SKIPPED_ADS = Counter(
    "spider_collector_skipped_ads_total", "Ads not published because they could not be read", ["kind", "schedd"]
)

PUSH_JOB = "spider-collector"


def push(url: str) -> None:
    """Replace the job's metrics in a Pushgateway with this process's (a --once run that nothing scrapes).

    A replace (PUT), not an add: a schedd that failed in this run keeps no last success from an older run."""
    push_to_gateway(url, job=PUSH_JOB, registry=REGISTRY, timeout=10)
