"""The converter service through the local Kafka: `python -m bench.converter_service [--n 20000]`.

Publishes n realistic raw messages (bench/ads.py) to private topics, starts one `spider converter` worker and
times the documents from the first to the last one out; samples the worker's RSS meanwhile.
Targets (issue 3): >= 4,000 docs/s per worker, RSS < 300 MB. The conversion alone: bench/convert_throughput.py.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench.ads import raw_messages, realistic_ads


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench_service(n: int) -> None:
    from confluent_kafka import Consumer, Producer

    from services.common import topics
    from services.common.config import KafkaSettings
    from services.common.topic_admin import create_topics

    kafka = KafkaSettings(topic_prefix=f"bench-{uuid.uuid4().hex[:8]}.")
    create_topics(kafka)
    producer = Producer({**kafka.client_config(), "linger.ms": 50})
    for key, value in raw_messages(realistic_ads(n, seed=3, kind="history")):
        producer.produce(kafka.topic(topics.RAW_HISTORY), key=key, value=value)
        producer.poll(0)
    producer.flush(60)
    env = {
        **os.environ,
        "SPIDER_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
        "SPIDER_GROUP_ID": f"bench-{uuid.uuid4().hex[:8]}",
        "SPIDER_LOG_LEVEL": "WARNING",
    }
    consumer = Consumer(
        {**kafka.client_config(), "group.id": f"r-{uuid.uuid4().hex[:8]}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([kafka.topic(topics.DOCS_HISTORY)])
    worker = subprocess.Popen(
        [sys.executable, "-c", "from services.cli import main; main()", "converter"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    seen, first, rss, deadline = 0, None, 0.0, time.monotonic() + 600
    try:
        while seen < n * 0.99 and time.monotonic() < deadline:
            batch = consumer.consume(1000, 0.5)
            seen += sum(1 for m in batch if m.error() is None)
            if seen and first is None:
                first = time.monotonic()
            rss = max(rss, _rss_mb(worker.pid))
        elapsed = time.monotonic() - first if first else float("nan")
    finally:
        worker.terminate()
        worker.wait(60)
        consumer.close()
        from confluent_kafka.admin import AdminClient

        AdminClient(kafka.client_config()).delete_topics([kafka.topic(s.name) for s in topics.TOPICS])
    print(
        f"service: {seen} documents in {elapsed:.2f} s after the first = {seen / elapsed:,.0f} docs/s; "
        f"peak RSS {rss:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000)
    args = parser.parse_args()
    bench_service(args.n)


if __name__ == "__main__":
    main()
