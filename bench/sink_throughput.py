"""Throughput of the ES/OpenSearch sink against a plain `helpers.bulk` loop, side by side in one run.

    python -m bench.sink_throughput [--kind elasticsearch|opensearch|both] [--docs 20000]

Both index the same documents (realistic ads from bench/ads.py through the real converter, ~7.5 KB each)
into the same local cluster (127.0.0.1:9200 / 9201), each into its own index prefix with the same index
template installed. The baseline gets the documents already serialized (bytes passed straight through
`helpers.bulk`, one request at a time, same chunk size); the sink reads them from Kafka, decodes them and
writes them with its runner. Sink time runs from its first consumed document to the last acknowledged one
(consumer-group join excluded; reported separately). Target: sink >= 80% of the baseline.

Wall-clock ratios swing widely when other work shares the machine, so the client-side CPU (this process's
user + system time over the same window, ms per 1,000 documents) is reported for both sides as well: for the
sink that is its threads (runner, writers, librdkafka); for the baseline, the helper's chunking and requests.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import orjson
from elasticsearch import helpers as es_helpers
from opensearchpy import helpers as os_helpers
from prometheus_client import REGISTRY

from bench.ads import realistic_ads
from services.common import raw_message, topics
from services.common.config import ClusterConfig, KafkaSettings
from services.common.search_clients import client
from services.converter.convert import ConversionContext, Document, convert
from services.sinks import elasticsearch, opensearch, templates
from services.sinks.bulk import BulkTarget, index_name
from services.sinks.config import SinkConfig
from services.sinks.runner import SinkRunner

PORTS = {"elasticsearch": 9200, "opensearch": 9201}
HELPERS = {"elasticsearch": es_helpers, "opensearch": os_helpers}
FACTORIES = {"elasticsearch": elasticsearch.targets, "opensearch": opensearch.targets}
UNIQUE_ADS = 3000


def make_documents(n: int) -> list[Document]:
    """n converted documents; beyond UNIQUE_ADS the ads repeat under new job ids (conversion is slow)."""
    context = ConversionContext(None, "0123456789ab", "bench", "bench", "bench")
    base = []
    for ad in realistic_ads(min(n, UNIQUE_ADS), seed=7, kind="history"):
        _, value = raw_message.encode(ad, source="condor_history", pool="Global", schedd="bench", collected_at=1.7e9)
        doc = convert(raw_message.decode(value), context)
        if doc is not None:
            base.append(doc)
    docs = []
    for i in range(n):
        doc = base[i % len(base)]
        docs.append(dataclasses.replace(doc, id=f"{doc.id}#r{i}"))
    return docs


def sink_config(kind: str, workdir: Path, kafka: KafkaSettings, prefix: str, batch: int) -> SinkConfig:
    (workdir / "etc").mkdir(parents=True, exist_ok=True)
    entry = {"name": "bench", "kind": kind, "host": "127.0.0.1", "port": PORTS[kind], "scheme": "http"}
    (workdir / "etc" / "es_conf.json").write_bytes(orjson.dumps([entry]))
    return SinkConfig(
        workdir=workdir,
        kafka=kafka,
        index_template=prefix,
        consumer_group_prefix=f"bench-{uuid.uuid4().hex[:8]}",
        batch_size=batch,
        number_of_replicas=0,
    )


def run_baseline(kind: str, search, docs: list[Document], prefix: str, config: SinkConfig) -> tuple[float, float]:
    """(seconds, CPU seconds)"""
    # opensearch-py's chunker wants text, elasticsearch-py's passes bytes through: serialized either way
    text = kind == "opensearch"
    pairs = [
        (
            {"index": {"_index": index_name(d, prefix, None), "_id": d.id}},
            orjson.dumps(d.body).decode() if text else orjson.dumps(d.body),
        )
        for d in docs
    ]
    started, cpu = time.perf_counter(), time.process_time()
    ok, errors = HELPERS[kind].bulk(
        search,
        pairs,
        expand_action_callback=lambda pair: pair,
        chunk_size=config.batch_size,
        max_chunk_bytes=config.batch_bytes,
    )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert ok == len(docs) and not errors, (ok, errors)
    return elapsed, cpu


def run_sink(kind: str, docs: list[Document], config: SinkConfig) -> tuple[float, float, float]:
    """(seconds, group-join seconds, CPU seconds)"""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from services.common import document_message

    topic = config.kafka.topic(topics.DOCS_HISTORY)
    admin = AdminClient(config.kafka.client_config())
    names = [config.kafka.topic(t) for t in (topics.DOCS_HISTORY, topics.DOCS_QUEUE, topics.DLQ_SINKS)]
    for future in admin.create_topics([NewTopic(t, num_partitions=4, replication_factor=1) for t in names]).values():
        future.result(30)
    producer = Producer({**config.kafka.client_config(), "linger.ms": 50})
    for doc in docs:
        key, value, headers = document_message.encode(doc, "0123456789ab")
        while True:
            try:
                producer.produce(topic, value, key, headers=headers)
                break
            except BufferError:
                producer.poll(0.1)
    producer.flush(60)

    [target] = FACTORIES[kind](config, "bench")
    runner = SinkRunner(target, config)
    labels = {"topic": topic, "target": target.name}

    def sample(outcome: str) -> float:
        return REGISTRY.get_sample_value("spider_sink_documents_total", {**labels, "outcome": outcome}) or 0.0

    thread = threading.Thread(target=runner.run, daemon=True)
    started = time.perf_counter()
    thread.start()
    while sample("in") == 0:
        time.sleep(0.01)
    # the sink's threads only: this (main) thread's polling of the counters is subtracted
    first, cpu = time.perf_counter(), time.process_time() - time.thread_time()
    while sample("out") < len(docs):
        time.sleep(0.01)
    done, cpu = time.perf_counter(), time.process_time() - time.thread_time() - cpu
    runner.stop()
    thread.join(60)
    for future in admin.delete_topics(names).values():
        future.result(30)
    return done - first, first - started, cpu


def one_round(kind: str, docs: list[Document], batch: int, sink_first: bool) -> tuple[float, ...]:
    """(baseline seconds, sink seconds, sink group-join seconds, baseline CPU s, sink CPU s) on fresh indices
    and topics.

    Whichever runs second starts while the cluster still merges and flushes the first one's ~150 MB, which
    slowed the second by up to half on the 2-core VM; rounds therefore alternate the order."""
    n = len(docs)
    search = client(ClusterConfig(name="bench", kind=kind, host="127.0.0.1", port=PORTS[kind], scheme="http"))
    run_id = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(topic_prefix=f"bench-{run_id}.")
    base_prefix, sink_prefix = f"bench-{run_id}-base", f"bench-{run_id}-sink"
    with tempfile.TemporaryDirectory() as tmp:
        config = sink_config(kind, Path(tmp), kafka, sink_prefix, batch)
        registry = templates.load_registry()
        # the same template for the baseline's indices, so both index with identical mappings
        base_config = config.model_copy(update={"index_template": base_prefix})
        BulkTarget("baseline", FACTORIES[kind](config, "bench")[0].client, base_config, registry).initialize()
        try:
            if sink_first:
                sink_s, join_s, sink_cpu = run_sink(kind, docs, config)
                base_s, base_cpu = run_baseline(kind, search, docs, base_prefix, config)
            else:
                base_s, base_cpu = run_baseline(kind, search, docs, base_prefix, config)
                sink_s, join_s, sink_cpu = run_sink(kind, docs, config)
            search.indices.refresh(index=f"{sink_prefix}-*")
            landed = search.count(index=f"{sink_prefix}-*")["count"]
            assert landed == n, f"sink indexed {landed} of {n}"
        finally:
            for prefix in (base_prefix, sink_prefix):
                search.indices.delete(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True)
                if search.indices.exists_index_template(name=prefix):
                    search.indices.delete_index_template(name=prefix)
    return base_s, sink_s, join_s, base_cpu, sink_cpu


def bench(kind: str, n: int, batch: int, rounds: int) -> dict[str, float]:
    """Run baseline and sink `rounds` times, alternating which goes first (the box is shared: load varies), and
    compare medians."""
    docs = make_documents(n)
    size = sum(len(orjson.dumps(d.body)) for d in docs) / len(docs)
    results = [one_round(kind, docs, batch, sink_first=i % 2 == 1) for i in range(rounds)]
    base_s = statistics.median(r[0] for r in results)
    sink_s = statistics.median(r[1] for r in results)
    result = {
        "docs": n,
        "rounds": rounds,
        "doc_bytes": round(size),
        "baseline_docs_per_s": round(n / base_s),
        "sink_docs_per_s": round(n / sink_s),
        "ratio": round(base_s / sink_s, 3),
        "per_round_ratio": [round(r[0] / r[1], 3) for r in results],
        "sink_group_join_s": round(statistics.median(r[2] for r in results), 2),
        "baseline_cpu_ms_per_1000": round(statistics.median(r[3] for r in results) * 1e6 / n, 1),
        "sink_cpu_ms_per_1000": round(statistics.median(r[4] for r in results) * 1e6 / n, 1),
    }
    print(kind, orjson.dumps(result).decode(), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=["elasticsearch", "opensearch", "both"], default="both")
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    kinds = ["elasticsearch", "opensearch"] if args.kind == "both" else [args.kind]
    for kind in kinds:
        bench(kind, args.docs, args.batch, args.rounds)


if __name__ == "__main__":
    main()
