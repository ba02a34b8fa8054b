"""What has landed where: the demo's numbers, each read from the system that holds it.

- published / documents / dead letters: end offsets of the demo's (fresh) topics;
- converter and sink lag: end offsets minus the consumer groups' committed offsets;
- Elasticsearch / OpenSearch: `_count` over the demo's indices (the search API, not a metric), after a forced
  refresh unless `refresh=False` (the benchmark: a refresh each tick is server CPU the product does not cause,
  and without it the count is what is searchable, one index refresh interval later);
- ActiveMQ: the AMQ sink's `spider_sink_documents_total{outcome="out"}` (a topic keeps no count of its own),
  cross-checked by the sink group's committed offsets;
- rejections: the sinks' `rejected`/`undecodable` counters, dropped ads: the converter's counter.
"""

from __future__ import annotations

import contextlib
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from services.common import search_clients, topics
from services.common.config import ClusterConfig, KafkaSettings
from services.common.errors import SpiderError
from services.recovery.kafka_view import KafkaView

Samples = list[tuple[str, dict[str, str], float]]


def scrape(port: int | None, timeout_s: float = 2.0) -> Samples:
    """Every sample of a child's /metrics; empty while it is not answering yet."""
    if port is None:
        return []
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout_s) as reply:
            text = reply.read().decode()
    except OSError:
        return []
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples]


def total(samples: Samples, name: str, **labels: str | Iterable[str]) -> int:
    """Sum of the samples called `name` whose labels match (a label given as a tuple matches any of its values)."""

    def matches(have: dict[str, str]) -> bool:
        return all(have.get(k) in ((v,) if isinstance(v, str) else v) for k, v in labels.items())

    return int(sum(value for sample, have, value in samples if sample == name and matches(have)))


@dataclass
class TargetProgress:
    label: str  # what the user sees: Elasticsearch, OpenSearch, ActiveMQ
    target: str  # sink target name (consumer group suffix, metric label)
    kind: str  # elasticsearch, opensearch (counted in the indices) or amq (counted by the sink)
    landed: int | None = None  # None: could not be read this time
    rejected: int = 0
    lag: int | None = None

    def done(self, documents: int) -> bool:
        return self.lag == 0 and self.landed is not None and self.landed + self.rejected == documents


@dataclass
class Snapshot:
    published: int = 0
    documents: int = 0
    dropped: int = 0
    dlq_converter: int = 0
    dlq_sinks: int = 0
    converter_lag: int | None = None
    collectors_done: bool = False
    targets: list[TargetProgress] = field(default_factory=list)

    def converted(self) -> bool:
        return self.collectors_done and self.converter_lag == 0

    def landed(self) -> bool:
        return self.converted() and all(t.done(self.documents) for t in self.targets)

    def waiting_for(self) -> list[str]:
        """The stages that have not finished, for the timeout message."""
        if not self.collectors_done:
            return ["collector"]
        if self.converter_lag != 0:
            return [f"converter (lag {self.converter_lag})"]
        return [
            f"{t.label} ({t.landed} of {self.documents - t.rejected}, lag {t.lag})"
            for t in self.targets
            if not t.done(self.documents)
        ]


class Observer:
    def __init__(
        self,
        kafka: KafkaSettings,
        clusters: list[ClusterConfig],
        index_pattern: str,
        converter_group: str,
        sink_groups: dict[str, str],
        refresh: bool = True,
    ) -> None:
        self.kafka = kafka
        self.view = KafkaView(kafka, timeout_s=10.0)
        self.clients = {c.kind: search_clients.client(c, timeout_s=10.0) for c in clusters}
        self.index_pattern = index_pattern
        self.converter_group = converter_group
        self.sink_groups = sink_groups  # target name -> consumer group
        self.refresh = refresh  # force an index refresh before each count

    def _ends(self, names: Iterable[str]) -> dict[tuple[str, int], int]:
        tps = self.view.partitions(self.kafka.topic(n) for n in names)
        return {tp: end for tp, (_low, end) in self.view.watermarks(tps).items()}

    def _lag(self, group: str, ends: dict[tuple[str, int], int]) -> int | None:
        try:
            committed = self.view.committed(group)
        except SpiderError:
            return None
        return sum(end - committed.get(tp, 0) for tp, end in ends.items())

    def count(self, kind: str) -> int:
        client = self.clients[kind]
        if self.refresh:
            client.indices.refresh(index=self.index_pattern, allow_no_indices=True, ignore_unavailable=True)
        return int(client.count(index=self.index_pattern, allow_no_indices=True, ignore_unavailable=True)["count"])

    def per_index(self, kind: str) -> dict[str, int]:
        body = {"size": 0, "aggs": {"by_index": {"terms": {"field": "_index", "size": 1000}}}}
        reply = self.clients[kind].search(index=self.index_pattern, body=body)
        return {b["key"]: b["doc_count"] for b in sorted(reply["aggregations"]["by_index"]["buckets"], key=_key)}

    def example(self, kind: str, query: dict[str, Any]) -> dict[str, Any] | None:
        reply = self.clients[kind].search(index=self.index_pattern, body={"size": 1, "query": query})
        hits = reply["hits"]["hits"]
        return hits[0] if hits else None

    def snapshot(self, collectors_done: bool, metrics: dict[str, Samples], targets: list[TargetProgress]) -> Snapshot:
        raw = self._ends((topics.RAW_QUEUE, topics.RAW_HISTORY))
        docs = self._ends((topics.DOCS_QUEUE, topics.DOCS_HISTORY))
        snap = Snapshot(
            published=sum(raw.values()),
            documents=sum(docs.values()),
            dropped=total(metrics.get("converter", []), "spider_converter_messages_total", outcome="dropped"),
            dlq_converter=sum(self._ends((topics.DLQ_CONVERTER,)).values()),
            dlq_sinks=sum(self._ends((topics.DLQ_SINKS,)).values()),
            converter_lag=self._lag(self.converter_group, raw),
            collectors_done=collectors_done,
        )
        for t in targets:
            samples = metrics.get(t.target, [])
            sink = "spider_sink_documents_total"
            t.rejected = total(samples, sink, target=t.target, outcome=("rejected", "undecodable"))
            t.lag = self._lag(self.sink_groups[t.target], docs)
            if t.kind == "amq":
                t.landed = total(samples, sink, target=t.target, outcome="out") if samples else t.landed
            else:
                # a slow refresh under load keeps the last value until the next tick
                with contextlib.suppress(Exception):
                    t.landed = self.count(t.kind)
            snap.targets.append(t)
        return snap

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def _key(bucket: dict[str, Any]) -> str:
    return bucket["key"]
