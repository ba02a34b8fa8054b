"""Collector publishing throughput on one core: in-memory classad2 ads -> raw messages -> local Kafka.

    python -m bench.collector_throughput [--ads 100000] [--file-ads 20000] [--bootstrap 127.0.0.1:9092]

Times what a schedd poll does once the schedd answered: `raw_message.encode` of every ad and `Publisher.produce`
through the idempotent zstd producer, until Kafka acknowledged every message (the point where a history
checkpoint may move). The process and librdkafka's threads are pinned to one CPU. Target (issue 4):
>= 10,000 ads/s. Also times `--from-file` end to end (history-file parse + encode + publish + acks).
Topics get a private prefix and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

from bench.ads import history_text, realistic_ads
from services.collector.fromfile import publish_file
from services.common import raw_message, topics
from services.common.config import KafkaSettings
from services.common.kafka import Delivery, Publisher
from services.common.topic_admin import create_topics


def bench_publish(ads: list, kafka: KafkaSettings, compression: str) -> None:
    publisher = Publisher(kafka, compression=compression)
    topic = kafka.topic(topics.RAW_HISTORY)
    identity = raw_message.collector_identity()
    delivery = Delivery()
    size = 0
    started = time.perf_counter()
    cpu = time.process_time()
    for ad in ads:
        key, value = raw_message.encode(
            ad,
            source="condor_history",
            pool="Global",
            schedd="vocms0250.cern.ch",
            collected_at=started,
            identity=identity,
        )
        size += len(value)
        publisher.produce(topic, key, value, delivery)
    assert delivery.wait(300) and delivery.ok, f"{delivery.failed} failed: {delivery.first_error}"
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    publisher.close()
    print(
        f"in-memory ads -> raw messages -> Kafka ({compression}): {len(ads)} ads, {size / len(ads) / 1024:.1f} KiB "
        f"per message, {elapsed:.2f} s, {len(ads) / elapsed:,.0f} ads/s acknowledged; CPU {cpu:.2f} s = "
        f"{len(ads) / cpu:,.0f} ads per CPU second (all threads of the process, pinned to one core)"
    )


def bench_file(ads: list, kafka: KafkaSettings) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history"
        path.write_text(history_text(ads))
        publisher = Publisher(kafka)
        started, cpu = time.perf_counter(), time.process_time()
        result = publish_file(path, publisher, kafka, pool="Global", schedd="vocms0250.cern.ch", timeout_s=300)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        publisher.close()
        mib = path.stat().st_size / 2**20
    assert result.published == len(ads) and not result.failed and not result.skipped, result
    print(
        f"--from-file history file -> Kafka: {len(ads)} ads ({mib:.0f} MiB), {elapsed:.2f} s, "
        f"{len(ads) / elapsed:,.0f} ads/s end to end; {len(ads) / cpu:,.0f} ads per CPU second"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ads", type=int, default=100_000)
    parser.add_argument("--file-ads", type=int, default=20_000)
    parser.add_argument("--bootstrap", default=os.environ.get("SPIDER_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    parser.add_argument("--compression", choices=["zstd", "lz4"], default="zstd")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    kafka = KafkaSettings(bootstrap_servers=args.bootstrap, topic_prefix=f"bench-{uuid.uuid4().hex[:8]}.")
    create_topics(kafka)
    try:
        print(f"generating {args.ads} realistic ads ...", flush=True)
        ads = realistic_ads(args.ads, kind="history")
        bench_publish(ads, kafka, args.compression)
        bench_file(ads[: args.file_ads], kafka)
    finally:
        from confluent_kafka.admin import AdminClient

        AdminClient(kafka.client_config()).delete_topics([kafka.topic(s.name) for s in topics.TOPICS])


if __name__ == "__main__":
    main()
