"""`spider collector --from-file`: publish the ads of a file as if a schedd had returned them.

For back-fills, replays of captured data, the demo and tests. An ad that cannot be read is reported with its
line number and sent to the converter's dead-letter topic with the reason and the original text; the run goes on.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from services.collector import metrics
from services.common import dead_letter, raw_message, topics
from services.common.adfile import read_ads
from services.common.config import KafkaSettings
from services.common.kafka import Delivery, Publisher

log = logging.getLogger(__name__)

SOURCES = {"queue": ("condor_queue", topics.RAW_QUEUE), "history": ("condor_history", topics.RAW_HISTORY)}


@dataclass
class FileResult:
    published: int = 0
    skipped: int = 0
    failed: int = 0
    first_error: str | None = None


def publish_file(
    path: Path,
    publisher: Publisher,
    kafka: KafkaSettings,
    *,
    pool: str | None,
    schedd: str | None,
    source: str = "history",
    timeout_s: float = 120.0,
    rate: float | None = None,
) -> FileResult:
    """Publish every readable ad of `path`; raw-message NDJSON lines are forwarded unchanged to their topic.

    `rate` (ads/s) paces a replay so that it offers a steady load instead of one burst (benchmarks, back-fills
    that must not swamp a live pipeline)."""
    raw_source, topic = SOURCES[source]
    now = time.time()
    snapshot_id = uuid.uuid4().hex if source == "queue" else None
    identity = raw_message.collector_identity()
    service = dead_letter.service_identity("collector")
    ads, letters = Delivery(), Delivery()
    result = FileResult()
    label = schedd or path.name
    began = time.monotonic()
    for n, record in enumerate(read_ads(path)):
        if rate:
            ahead = began + n / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        if record.error is not None:
            result.skipped += 1
            metrics.SKIPPED_ADS.labels(kind="file", schedd=label).inc()
            log.warning("%s line %d: ad skipped: %s", path, record.line, record.error, extra={"line": record.line})
            letter = dead_letter.record(
                "collector",
                record.error,
                dead_letter.Origin(value=record.text.encode()),
                service,
                details={"file": str(path), "line": record.line},
                now=now,
            )
            key, value = dead_letter.encode(letter)
            publisher.produce(kafka.topic(topics.DLQ_CONVERTER), key, value, letters)
        elif record.raw is not None:
            raw_topic = topics.RAW_QUEUE if record.raw.source == "condor_queue" else topics.RAW_HISTORY
            key = record.raw.global_job_id.encode() if record.raw.global_job_id else None
            publisher.produce(kafka.topic(raw_topic), key, record.text.strip().encode(), ads)
        else:
            key, value = raw_message.encode(
                record.ad,
                source=raw_source,
                pool=pool,
                schedd=schedd,
                collected_at=now,
                snapshot_id=snapshot_id,
                snapshot_time=now if snapshot_id else None,
                identity=identity,
            )
            publisher.produce(kafka.topic(topic), key, value, ads)
    deadline = time.monotonic() + timeout_s
    for delivery in (ads, letters):
        delivery.wait(deadline - time.monotonic())
        result.failed += delivery.failed + delivery.pending
        result.first_error = result.first_error or delivery.first_error
    result.published = ads.delivered
    metrics.ADS_PUBLISHED.labels(kind="file", schedd=label).inc(max(result.published, 0))
    return result
