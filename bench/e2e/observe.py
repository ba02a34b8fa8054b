"""What the benchmark measures besides the demo's counts: latency samples, Kafka timestamps, process usage.

Latency method: a fixed sample of GlobalJobIds (spread evenly over the input) is looked up every tick in each
search engine with a terms query, without forcing a refresh, so a document counts as indexed from the first
tick it is searchable. Its publish time is the CreateTime Kafka timestamp of its raw message (read back from
the raw topics after the run). Latency = first tick found - publish time; resolution is one tick.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from bench.converter_service import _cpu_s, _rss_mb
from services.common.config import KafkaSettings


class LatencySampler:
    def __init__(self, clients: dict, index_pattern: str, job_ids: list[str], samples: int) -> None:
        step = max(len(job_ids) // samples, 1)
        self.ids = job_ids[::step][:samples]
        self.clients = clients  # kind -> search client
        self.index_pattern = index_pattern
        self.seen: dict[str, dict[str, float]] = {kind: {} for kind in clients}

    def poll(self) -> None:
        now = time.time()
        for kind, client in self.clients.items():
            missing = [i for i in self.ids if i not in self.seen[kind]]
            if not missing:
                continue
            body = {"size": len(missing), "_source": ["GlobalJobId"], "query": {"terms": {"GlobalJobId": missing}}}
            try:
                reply = client.search(
                    index=self.index_pattern, body=body, allow_no_indices=True, ignore_unavailable=True
                )
            except Exception:  # an index created a moment ago may answer 503 once: try next tick
                continue
            for hit in reply["hits"]["hits"]:
                self.seen[kind].setdefault(hit["_source"]["GlobalJobId"], now)

    def rates(self, documents: int) -> dict[str, float | None]:
        """Indexing docs/s per engine over the middle 80% of the samples (first and last 10% are start-up and tail)."""
        out: dict[str, float | None] = {}
        for kind, seen in self.seen.items():
            times = sorted(seen.values())
            lo, hi = int(len(times) * 0.1), int(len(times) * 0.9) - 1
            span = times[hi] - times[lo] if len(times) >= 10 else 0
            out[kind] = documents * (hi - lo) / len(self.ids) / span if span > 0 else None
        return out

    def latencies(self, published: dict[str, float]) -> dict[str, list[float]]:
        return {
            kind: sorted(t - published[i] for i, t in seen.items() if i in published)
            for kind, seen in self.seen.items()
        }


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return values[min(int(q / 100 * len(values)), len(values) - 1)]


@dataclass
class TopicTimes:
    count: int = 0
    first: float | None = None  # seconds since the epoch
    last: float | None = None
    by_key: dict[str, float] = field(default_factory=dict)

    def rate(self) -> float | None:
        if self.first is None or self.last is None or self.last <= self.first:
            return None
        return self.count / (self.last - self.first)


def topic_times(
    kafka: KafkaSettings, names: Iterable[str], keys: set[str] | None = None, job_id_of=lambda key: key
) -> TopicTimes:
    """Kafka timestamps of every message of the topics (and per GlobalJobId for `keys`, `job_id_of` the message
    key), read from the start to the end."""
    consumer = Consumer({**kafka.client_config(), "group.id": "unused", "enable.auto.commit": False})
    out = TopicTimes()
    try:
        ends: dict[tuple[str, int], int] = {}
        for name in names:
            topic = kafka.topic(name)
            for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                if high > low:
                    ends[(topic, p)] = high
        consumer.assign([TopicPartition(t, p, 0) for t, p in ends])
        remaining = dict(ends)
        while remaining:
            for msg in consumer.consume(1000, timeout=5):
                if msg.error():
                    continue
                ts = msg.timestamp()[1] / 1000
                out.count += 1
                out.first = ts if out.first is None else min(out.first, ts)
                out.last = ts if out.last is None else max(out.last, ts)
                if keys is not None and msg.key() is not None and (key := job_id_of(msg.key().decode())) in keys:
                    out.by_key.setdefault(key, ts)
                if msg.offset() + 1 >= remaining.get((msg.topic(), msg.partition()), 0):
                    remaining.pop((msg.topic(), msg.partition()), None)
    finally:
        consumer.close()
    return out


@dataclass
class Usage:
    peak_rss_mb: float = 0.0
    cpu_s: float = 0.0
    rss_mb: float = 0.0  # at the last sample


class ProcessMeter:
    """Peak RSS and CPU time of processes, from /proc each tick (the last reading stands after exit).

    CPU counts from the first reading, so a service's start-up (imports, group join) is not charged to documents."""

    def __init__(self) -> None:
        self.usage: dict[str, Usage] = {}
        self.first_cpu: dict[str, float] = {}

    def sample(self, pids: dict[str, int | None]) -> None:
        for name, pid in pids.items():
            if pid is None:
                continue
            try:
                rss, cpu = _rss_mb(pid), _cpu_s(pid)
            except (OSError, IndexError):  # exited meanwhile
                continue
            usage = self.usage.setdefault(name, Usage())
            usage.rss_mb = rss
            usage.peak_rss_mb = max(usage.peak_rss_mb, rss)
            usage.cpu_s = max(usage.cpu_s, cpu - self.first_cpu.setdefault(name, cpu))


SERVERS = {  # a word of the JVM's command line -> what the report calls it
    "kafka.Kafka": "kafka",
    "org.elasticsearch.bootstrap": "elasticsearch",
    "org.opensearch.bootstrap": "opensearch",
    "activemq.jar": "activemq",
}


def server_pids() -> dict[str, int]:
    """The local stack's server processes (read only: their CPU and RSS are part of the cost on this machine)."""
    found: dict[str, int] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        for word, name in SERVERS.items():
            if word in command and "CliToolLauncher" not in command:
                found[name] = int(proc.name)
    return found


def reaped_children_usage() -> Usage:
    """CPU and peak RSS of every child reaped so far: called when only the collectors have exited, it is theirs,
    exactly, including the last moments /proc sampling would miss."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Usage(peak_rss_mb=ru.ru_maxrss / 1024, cpu_s=ru.ru_utime + ru.ru_stime)
