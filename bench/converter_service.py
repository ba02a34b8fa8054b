"""The converter service through the local Kafka: `python -m bench.converter_service [--n 60000] [--uniform]`.

Publishes n realistic raw messages (bench/ads.py; diverse by default, as a schedd's history: nearly every ad with an
attribute list of its own; `--uniform` for the ads of earlier benchmarks) to private topics, times `pipeline.step`
alone on the same messages in this process, then starts one `spider converter` worker and times the documents from
the first to the last one out, sampling the worker's RSS and CPU time meanwhile. The machine is shared, so the
figures to compare between runs are ratios to the step alone measured just before: wall clock (how much of the
conversion speed the service keeps, stalls included) and per CPU second (the Kafka side's cost; less sensitive to
load). `--profile` records the worker with py-spy (`.txt` gives py-spy's raw collapsed stacks, else a flame graph
SVG). Targets (issue 3): >= 4,000 docs/s per worker, RSS < 300 MB. The conversion alone:
bench/convert_throughput.py. 60,000 messages by default (~15 s of work): with 20,000 (~5 s) the ramp-up and the
last, partial batch waiting its `batch_timeout_s` were ~10% of the timed window.

Long runs for the worker's memory (issue 15: RSS < 300 MB and flat): `--n 1000000 --pool 50000 --rss-every
100000` publishes the n messages cycling over `--pool` distinct ads (generating a million ads takes ~15 CPU
minutes; the step's memos are bounded by count, bench.convert_throughput --memory covers a million distinct
lists) and prints the worker's RSS every `--rss-every` documents out, then its peak and final RSS. The messages
are all published before the worker starts, so it runs on a backlog, its fetch and stream buffers full.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench.ads import raw_messages, realistic_ads, shape_summary
from services import compilation

TARGET_DOCS_PER_S = 4000.0
TARGET_RSS_MB = 300.0


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def step_alone_rates(values: list[bytes]) -> tuple[float, float]:
    """Messages/s of the conversion step, wall clock and CPU, with the context a default worker builds."""
    from services.common import gc_tuning
    from services.common.dead_letter import Origin, service_identity
    from services.converter.affiliations import AffiliationCache
    from services.converter.config import ConverterConfig
    from services.converter.pipeline import STAGE, Contexts, step

    cfg = ConverterConfig()
    context = Contexts(cfg.reduce_running, AffiliationCache(cfg.resolve(cfg.affiliation_file)).get)()
    origin, service = Origin(), service_identity(STAGE)
    gc_tuning.freeze_startup_heap()  # as the worker does
    started, cpu_started = time.perf_counter(), time.process_time()
    for value in values:
        step(value, context, origin, service)
    return len(values) / (time.perf_counter() - started), len(values) / (time.process_time() - cpu_started)


def _start_profiler(pid: int, out: Path) -> subprocess.Popen:
    fmt = "raw" if out.suffix == ".txt" else "flamegraph"
    command = ["py-spy", "record", "--pid", str(pid), "-o", str(out), "-f", fmt, "-r", "200", "--idle", "--threads"]
    return subprocess.Popen(command)


def bench_service(
    n: int, profile: Path | None, diverse: bool = True, pool: int | None = None, rss_every: int | None = None
) -> None:
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient

    from services.common import topics
    from services.common.config import KafkaSettings
    from services.common.topic_admin import create_topics

    ads = realistic_ads(min(n, pool or n), seed=3, kind="history", diverse=diverse)
    print(f"ads: {shape_summary(ads)}" + (f", published {n:,} times in turn" if n > len(ads) else ""), flush=True)
    messages = raw_messages(ads)
    del ads
    step_rate, step_cpu_rate = step_alone_rates([value for _, value in messages[:10_000]])
    kafka = KafkaSettings(topic_prefix=f"bench-{uuid.uuid4().hex[:8]}.")
    create_topics(kafka)
    producer = Producer({**kafka.client_config(), "linger.ms": 50})
    for i in range(n):
        key, value = messages[i % len(messages)]
        while True:
            try:
                producer.produce(kafka.topic(topics.RAW_HISTORY), key=key, value=value)
                break
            except BufferError:  # librdkafka's queue is full: a long run outpaces the broker
                producer.poll(0.1)
        producer.poll(0)
    producer.flush(600)
    del messages
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
    profiler = None
    seen, first, cpu_first, rss, deadline = 0, None, 0.0, 0.0, time.monotonic() + max(600, n / 100)
    next_sample = rss_every or n + 1
    try:
        while seen < n * 0.99 and time.monotonic() < deadline:
            batch = consumer.consume(1000, 0.5)
            seen += sum(1 for m in batch if m.error() is None)
            if seen and first is None:
                first, cpu_first = time.monotonic(), _cpu_s(worker.pid)
                if profile:
                    profiler = _start_profiler(worker.pid, profile)
            now = _rss_mb(worker.pid)
            rss = max(rss, now)
            if seen >= next_sample:
                print(f"{seen:>9,} docs: worker RSS {now:.0f} MB (peak so far {rss:.0f} MB)", flush=True)
                next_sample += rss_every or n
        elapsed = time.monotonic() - first if first else float("nan")
        cpu = _cpu_s(worker.pid) - cpu_first
        final_rss = _rss_mb(worker.pid)
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(60)
        worker.terminate()
        worker.wait(60)
        consumer.close()
        admin = AdminClient(kafka.client_config())
        for future in admin.delete_topics([kafka.topic(s.name) for s in topics.TOPICS]).values():
            future.result(60)  # else the process may end first and leave the (large) topics behind
    rate, cpu_rate = seen / elapsed, seen / max(cpu, 1e-9)
    print(f"conversion: {compilation.STATUS}")
    print(f"step alone: {step_rate:,.0f} msgs/s wall clock, {step_cpu_rate:,.0f} msgs/CPU-s (this process)")
    print(
        f"service: {seen} documents in {elapsed:.2f} s after the first = {rate:,.0f} docs/s "
        f"({rate / TARGET_DOCS_PER_S:.2f}x the {TARGET_DOCS_PER_S:,.0f} target), {rate / step_rate:.2f}x the step "
        f"alone; worker CPU {cpu:.1f} s = {cpu_rate:,.0f} docs/CPU-s, {cpu_rate / step_cpu_rate:.2f}x the step alone; "
        f"peak RSS {rss:.0f} MB, final {final_rss:.0f} MB (target < {TARGET_RSS_MB:.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=60_000)
    parser.add_argument("--uniform", action="store_true", help="the uniform ads of earlier benchmarks")
    parser.add_argument("--profile", type=Path, help="py-spy recording of the worker (needs py-spy on PATH)")
    parser.add_argument("--pool", type=int, help="distinct ads to generate, published in turn (default: n)")
    parser.add_argument("--rss-every", type=int, metavar="DOCS", help="print the worker's RSS every DOCS documents")
    args = parser.parse_args()
    bench_service(args.n, args.profile, diverse=not args.uniform, pool=args.pool, rss_every=args.rss_every)


if __name__ == "__main__":
    main()
