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

The search server's CPU (`*_server_cpu_ms_per_1000`: user + system time of the Elasticsearch or OpenSearch
processes, read from /proc through the local stack's pid files) is counted from the start of each side until
the cluster has refreshed and finished merging what that side wrote, so each side pays its own indexing work.

    python -m bench.sink_throughput --compare-mapping [--kind ...] [--docs 20000] [--rounds 3]

indexes the same converted documents (uniform ads: CRAB and WMAgent, queue and history) with `helpers.bulk`
into indices with spider's index template and into indices with the reference system's mapping
(bench/reference_mapping.py), alternating which goes first, and reports the server CPU per 1,000 documents of
each, their ratio (spider / reference; target <= 1), Lucene documents (nested objects count apart) and store
size. `--quick` (2,000 documents, 2 rounds) is a smoke run for either mode.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import orjson
from elasticsearch import helpers as es_helpers
from opensearchpy import helpers as os_helpers
from prometheus_client import REGISTRY

from bench import reference_mapping
from bench.ads import Kind, realistic_ads
from deploy.local import process
from deploy.local.config import load_stack_config
from deploy.local.servers import all_servers
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
T = TypeVar("T")


def make_documents(n: int, kind: Kind = "history") -> list[Document]:
    """n converted documents; beyond UNIQUE_ADS the ads repeat under new job ids (conversion is slow). The ads
    are bench/ads.py's uniform ones: the reference's mapping (and `helpers.bulk`, which has no fallback) refuses
    documents whose attributes change type, and the figures stay comparable with the earlier ones."""
    context = ConversionContext(None, "0123456789ab", "bench", "bench", "bench")
    base = []
    for ad in realistic_ads(min(n, UNIQUE_ADS), seed=7, kind=kind, diverse=False):
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


def server_group(kind: str) -> int:
    """Process group of the local stack's `kind` server (Elasticsearch: its launcher and server JVM)."""
    server = all_servers(load_stack_config())[kind]
    pid = process.running_pid(server.pid_file)
    if pid is None:
        raise SystemExit(
            f"no running {kind} recorded in {server.pid_file}: the server CPU is read through the stack's pid files;"
            " run from the checkout that started the stack, or set SPIDER_STACK_DIR to its state directory"
        )
    return pid  # each stack server leads its own session


def settle(search, pattern: str, timeout_s: float = 300.0) -> None:
    """Refresh, then wait until no merge runs and the segment count has held still for a second: the segments
    a bulk wrote and the merges they set off are then done, so their CPU counts with the indexing."""
    search.indices.refresh(index=pattern)
    deadline, last = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        total = search.indices.stats(index=pattern, metric="merge,segments")["_all"]["total"]
        state = (total["merges"]["current"], total["segments"]["count"])
        if state[0] == 0 and state == last:
            return
        last = state
        time.sleep(1)
    raise TimeoutError(f"merges on {pattern} still running after {timeout_s:.0f} s")


def with_server_cpu(kind: str, search, pattern: str, work: Callable[[], T]) -> tuple[T, float]:
    """`work()`, which indexes into `pattern`, and the server's CPU seconds from its start until the indices
    have settled."""
    group = server_group(kind)
    before = process.cpu_seconds(group)
    result = work()
    settle(search, pattern)
    return result, process.cpu_seconds(group) - before


def drop(search, prefix: str) -> None:
    """Delete the bench's indices and index template of `prefix`."""
    search.indices.delete(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True)
    if search.indices.exists_index_template(name=prefix):
        search.indices.delete_index_template(name=prefix)


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


def one_round(kind: str, docs: list[Document], batch: int, sink_first: bool) -> dict[str, float]:
    """Seconds, client and server CPU seconds of baseline and sink on fresh indices and topics.

    The second side used to start while the cluster still merged the first one's ~150 MB, which slowed it by up
    to half on the 2-core VM; each side now waits for its merges (`settle`), and rounds alternate the order."""
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
        sides = {
            "baseline": (f"{base_prefix}-*", functools.partial(run_baseline, kind, search, docs, base_prefix, config)),
            "sink": (f"{sink_prefix}-*", functools.partial(run_sink, kind, docs, config)),
        }
        measured = {}
        try:
            for side in ("sink", "baseline") if sink_first else ("baseline", "sink"):
                measured[side] = with_server_cpu(kind, search, *sides[side])
            landed = search.count(index=f"{sink_prefix}-*")["count"]
            assert landed == n, f"sink indexed {landed} of {n}"
        finally:
            drop(search, base_prefix)
            drop(search, sink_prefix)
    (base_s, base_cpu), base_server = measured["baseline"]
    (sink_s, join_s, sink_cpu), sink_server = measured["sink"]
    return {
        "baseline_s": base_s,
        "sink_s": sink_s,
        "join_s": join_s,
        "baseline_cpu": base_cpu,
        "sink_cpu": sink_cpu,
        "baseline_server_cpu": base_server,
        "sink_server_cpu": sink_server,
    }


def per_1000(seconds: float, n: int) -> float:
    """CPU seconds over n documents -> ms per 1,000 documents."""
    return round(seconds * 1e6 / n, 1)


def bench(kind: str, n: int, batch: int, rounds: int) -> dict[str, float]:
    """Run baseline and sink `rounds` times, alternating which goes first (the box is shared: load varies), and
    compare medians."""
    docs = make_documents(n)
    size = sum(len(orjson.dumps(d.body)) for d in docs) / len(docs)
    results = [one_round(kind, docs, batch, sink_first=i % 2 == 1) for i in range(rounds)]

    def median(key: str) -> float:
        return statistics.median(r[key] for r in results)

    result = {
        "docs": n,
        "rounds": rounds,
        "doc_bytes": round(size),
        "baseline_docs_per_s": round(n / median("baseline_s")),
        "sink_docs_per_s": round(n / median("sink_s")),
        "ratio": round(median("baseline_s") / median("sink_s"), 3),
        "per_round_ratio": [round(r["baseline_s"] / r["sink_s"], 3) for r in results],
        "sink_group_join_s": round(median("join_s"), 2),
        "baseline_cpu_ms_per_1000": per_1000(median("baseline_cpu"), n),
        "sink_cpu_ms_per_1000": per_1000(median("sink_cpu"), n),
        "baseline_server_cpu_ms_per_1000": per_1000(median("baseline_server_cpu"), n),
        "sink_server_cpu_ms_per_1000": per_1000(median("sink_server_cpu"), n),
    }
    print(kind, orjson.dumps(result).decode(), flush=True)
    return result


MAPPINGS = {"spider": templates.index_template, "reference": reference_mapping.index_template}
# Indexed first, apart: they create the daily indices and every dynamic field (a fixed cost per index and day,
# which production spreads over a day's documents, not over a few thousand).
WARMUP_DOCS = 500


def mapping_round(kind: str, docs: list[Document], batch: int, reference_first: bool) -> dict[str, dict[str, float]]:
    """Per mapping, on fresh indices: the server's CPU seconds to index the warm-up documents and then the others,
    the Lucene documents (a nested object is a document of its own) and store bytes."""
    search = client(ClusterConfig(name="bench", kind=kind, host="127.0.0.1", port=PORTS[kind], scheme="http"))
    registry = templates.load_registry()
    run_id = uuid.uuid4().hex[:8]
    config = SinkConfig(batch_size=batch)

    def indexing_cpu(part: list[Document], prefix: str) -> float:
        bulk = functools.partial(run_baseline, kind, search, part, prefix, config)
        return with_server_cpu(kind, search, f"{prefix}-*", bulk)[1]

    figures = {}
    for name in ("reference", "spider") if reference_first else ("spider", "reference"):
        prefix = f"bench-{run_id}-{name}"
        try:
            search.indices.put_index_template(name=prefix, body=MAPPINGS[name](registry, prefix, replicas=0))
            warmup = indexing_cpu(docs[:WARMUP_DOCS], prefix)
            cpu = indexing_cpu(docs[WARMUP_DOCS:], prefix)
            stored = search.indices.stats(index=f"{prefix}-*", metric="docs,store")["_all"]["primaries"]
            figures[name] = {
                "warmup_server_cpu": warmup,
                "server_cpu": cpu,
                "lucene_docs": stored["docs"]["count"],
                "store_bytes": stored["store"]["size_in_bytes"],
            }
        finally:
            drop(search, prefix)
    return figures


def compare_mappings(kind: str, n: int, batch: int, rounds: int) -> dict[str, float]:
    """Server CPU of spider's index template against the reference's mapping on the same documents (per 1,000
    after the warm-up); medians over `rounds` rounds alternating which mapping goes first."""
    docs = make_documents(n, kind="mixed")
    measured = n - WARMUP_DOCS
    results = [mapping_round(kind, docs, batch, reference_first=i % 2 == 0) for i in range(rounds)]

    def median(name: str, key: str) -> float:
        return statistics.median(r[name][key] for r in results)

    result: dict[str, float] = {"docs": n, "warmup_docs": WARMUP_DOCS, "rounds": rounds}
    for name in MAPPINGS:
        result[f"{name}_server_cpu_ms_per_1000"] = per_1000(median(name, "server_cpu"), measured)
    result["ratio"] = round(median("spider", "server_cpu") / median("reference", "server_cpu"), 3)
    result["per_round_ratio"] = [round(r["spider"]["server_cpu"] / r["reference"]["server_cpu"], 3) for r in results]
    for name in MAPPINGS:
        result[f"{name}_warmup_server_cpu_s"] = round(median(name, "warmup_server_cpu"), 2)
        result[f"{name}_lucene_docs"] = round(median(name, "lucene_docs"))
        result[f"{name}_store_mb"] = round(median(name, "store_bytes") / 2**20, 1)
    print(kind, "mapping", orjson.dumps(result).decode(), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=["elasticsearch", "opensearch", "both"], default="both")
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compare-mapping", action="store_true", help="spider's index template vs the reference's")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2,000 documents, 2 rounds")
    args = parser.parse_args()
    if args.quick:
        args.docs, args.rounds = 2000, 2
    if args.compare_mapping and args.docs < 2 * WARMUP_DOCS:
        parser.error(f"--compare-mapping needs at least {2 * WARMUP_DOCS} documents ({WARMUP_DOCS} warm up)")
    kinds = ["elasticsearch", "opensearch"] if args.kind == "both" else [args.kind]
    run = compare_mappings if args.compare_mapping else bench
    for kind in kinds:
        run(kind, args.docs, args.batch, args.rounds)


if __name__ == "__main__":
    main()
