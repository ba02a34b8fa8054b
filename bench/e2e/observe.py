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


def topic_times(kafka: KafkaSettings, names: Iterable[str], keys: set[str] | None = None) -> TopicTimes:
    """Kafka timestamps of every message of the topics (and per key for `keys`), read from the start to the end."""
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
                if keys is not None and msg.key() is not None and (key := msg.key().decode()) in keys:
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


class ProcessMeter:
    """Peak RSS and CPU time of running children, from /proc each tick (the last reading stands after exit)."""

    def __init__(self) -> None:
        self.usage: dict[str, Usage] = {}

    def sample(self, pids: dict[str, int | None]) -> None:
        for name, pid in pids.items():
            if pid is None:
                continue
            try:
                rss, cpu = _rss_mb(pid), _cpu_s(pid)
            except (OSError, IndexError):  # exited meanwhile
                continue
            usage = self.usage.setdefault(name, Usage())
            usage.peak_rss_mb = max(usage.peak_rss_mb, rss)
            usage.cpu_s = max(usage.cpu_s, cpu)


def reaped_children_usage() -> Usage:
    """CPU and peak RSS of every child reaped so far: called when only the collectors have exited, it is theirs,
    exactly, including the last moments /proc sampling would miss."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Usage(peak_rss_mb=ru.ru_maxrss / 1024, cpu_s=ru.ru_utime + ru.ru_stime)
