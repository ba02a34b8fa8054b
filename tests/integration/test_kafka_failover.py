"""The pipeline on a replicated Kafka (3 KRaft nodes, topics with 3 replicas and min.insync.replicas 2) loses a
broker, or all of them, while 20,000 ads stream through collector --from-file, converter and the Elasticsearch
and OpenSearch sinks: nothing is lost, nothing is duplicated, no committed offset of a sink ever covers a
document its engine does not hold, and every service rides it out by itself.

The cluster is this module's own (`spider stack up --kafka-brokers 3` in a temporary state dir, on free ports);
the shared single broker and the search servers of the local stack are never stopped. Each test prints the
failover gap: the longest time no document became searchable in either engine.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Message, TopicPartition

from bench.e2e import adfiles
from deploy.demo import processes, workdir
from deploy.demo.processes import Child
from deploy.demo.progress import scrape
from deploy.demo.workdir import DemoNames
from deploy.local import process, stack
from deploy.local.config import StackConfig, load_stack_config
from services.common import kafka as kafka_clients
from services.common import search_clients, topics
from services.common.config import ClusterConfig, KafkaSettings, load_es_clusters
from services.common.dead_letter import Origin
from services.common.groups import GroupNames
from services.common.topic_admin import create_topics
from services.converter.pipeline import Contexts, Converted, step

from .search_sink_support import cleanup as remove_indices

pytestmark = pytest.mark.integration

ADS = 20_000
RATE = 500.0  # ads/s over both collectors: the stream lasts ~40 s, so the faults hit it mid-run
FAULT_AFTER_S = 10.0
DOWN_S = 30.0
PARTITIONS = 4  # of every raw and document topic (topics.py)
LANDED_WITHIN_S = 300  # after the fault: a 40 s stream, up to 30 s of outage, and a slow shared CI machine
COMMITS_WITHIN_S = 60  # once every document is searchable, the groups' last commits are due within this
CHECK_EVERY = 5  # seconds between checks of the sinks' committed offsets (each refreshes the indices)
TARGETS = {"es-local-es": "elasticsearch", "opensearch-local-os": "opensearch"}
TP = tuple[str, int]
STREAMED = (topics.RAW_QUEUE, topics.RAW_HISTORY, topics.DOCS_QUEUE, topics.DOCS_HISTORY)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackConfig]:
    cfg = load_stack_config(
        dir=tmp_path_factory.mktemp("stack"),
        kafka_brokers=3,
        cluster_kafka_port=processes.free_port(3),
        cluster_kafka_controller_port=processes.free_port(3),
    )
    try:
        stack.raise_failures(stack.up(cfg, ["kafka"]))
        yield cfg
    finally:
        stack.down(cfg)


@dataclass(frozen=True)
class Ads:
    files: adfiles.AdFiles
    documents: dict[bytes, str | None]  # raw message -> the id of its document (None: dropped on purpose)

    @property
    def ids(self) -> frozenset[str]:
        """The documents a fault-free conversion gives."""
        return frozenset(i for i in self.documents.values() if i is not None)


@pytest.fixture(scope="module")
def ads(tmp_path_factory: pytest.TempPathFactory) -> Ads:
    files = adfiles.write(tmp_path_factory.mktemp("ads"), ADS, seed=14)
    context = Contexts(True, lambda: None)()
    documents = {}
    for path in (files.queue, files.history):
        with path.open("rb") as lines:
            for line in lines:
                raw = line.rstrip(b"\n")
                outcome = step(raw, context, Origin(), {})
                documents[raw] = outcome.key.decode() if isinstance(outcome, Converted) else None
    return Ads(files, documents)


@dataclass
class Watch:
    """Samples, once a second while the pipeline runs, each engine's searchable count (the failover gap); every
    CHECK_EVERY seconds, that no committed offset is ahead of the data: every raw message the converter committed
    has its document in a document topic, and every document a sink committed is in its engine."""

    kafka: KafkaSettings
    clients: dict[str, object]
    pattern: str
    converter_group: str
    groups: dict[str, str]  # sink group -> engine kind
    ads: Ads
    counts: list[tuple[float, int]] = field(default_factory=list)  # (time, documents in the poorer engine)
    checked: dict[tuple[str, TP], int] = field(default_factory=dict)
    written: set[str] = field(default_factory=set)  # ids in the document topics so far
    ahead: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # consumers only: librdkafka 2.16's admin client aborted the process (enq_once refcnt assertion) when a
        # broker it was asking died
        readers = {group: kafka_clients.consumer(self.kafka, group) for group in (self.converter_group, *self.groups)}
        tick = 0
        while not self._stop.wait(1.0):
            tick += 1
            try:
                self.counts.append((time.monotonic(), min(self._count(kind) for kind in set(self.groups.values()))))
                if tick % CHECK_EVERY == 0:
                    self._check(readers)
            except Exception as exc:  # a broker is down: sample again next second
                self.errors.append(f"{type(exc).__name__}: {exc}")
        for reader in readers.values():
            reader.close()

    def _check(self, readers: dict[str, Consumer]) -> None:
        self._check_converter(readers[self.converter_group])
        for group, kind in self.groups.items():
            self._check_sink(readers[group], group, kind)

    def _committed_since(self, reader: Consumer, group: str, names: tuple[str, ...]) -> tuple[list[Message], dict]:
        """The messages of `names` the group committed since the last check, and where the next check starts."""
        partitions = [TopicPartition(self.kafka.topic(name), p) for name in names for p in range(PARTITIONS)]
        committed = {
            (group, (tp.topic, tp.partition)): tp.offset
            for tp in reader.committed(partitions, timeout=10)
            if tp.offset >= 0
        }
        ranges = {tp: (self.checked.get((group, tp), 0), end) for (_group, tp), end in committed.items()}
        return _read(self.kafka, ranges, lambda msg: msg), committed

    def _check_converter(self, reader: Consumer) -> None:
        """Every raw message the converter committed has its document in a document topic (read after the
        commit, up to the topics' ends now)."""
        raw, committed = self._committed_since(reader, self.converter_group, (topics.RAW_QUEUE, topics.RAW_HISTORY))
        ends = {("docs", tp): end for tp, end in _ends(self.kafka, (topics.DOCS_QUEUE, topics.DOCS_HISTORY)).items()}
        ranges = {tp: (self.checked.get(("docs", tp), 0), end) for (_docs, tp), end in ends.items()}
        self.written.update(key.decode() for key in _keys(self.kafka, ranges))
        expected = {self.ads.documents.get(msg.value(), f"unknown raw message {msg.offset()}") for msg in raw}
        missing = expected - {None} - self.written
        if missing:
            self.ahead.append(f"converter: {len(missing)} committed ads have no document yet")
        self.checked.update(committed | ends)

    def _count(self, kind: str) -> int:
        reply = self.clients[kind].count(index=self.pattern, allow_no_indices=True, ignore_unavailable=True)
        return int(reply["count"])

    def _check_sink(self, reader: Consumer, group: str, kind: str) -> None:
        """The documents a sink committed since the last check must all be in its engine now."""
        documents, committed = self._committed_since(reader, group, (topics.DOCS_QUEUE, topics.DOCS_HISTORY))
        ids = {msg.key().decode() for msg in documents}
        if ids:
            client = self.clients[kind]
            client.indices.refresh(index=self.pattern, allow_no_indices=True, ignore_unavailable=True)
            found = int(client.count(index=self.pattern, body={"query": {"ids": {"values": list(ids)}}})["count"])
            if found < len(ids):
                self.ahead.append(f"{group}: {len(ids) - found} of {len(ids)} committed documents not in {kind}")
        self.checked.update(committed)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def covered(self, group: str) -> int:
        """How many messages the checks of a group's commits covered."""
        return sum(end for (name, _tp), end in list(self.checked.items()) if name == group)

    def longest_gap(self, until: int) -> float:
        """The longest time the count stood still before it reached `until`."""
        longest, since, last = 0.0, None, -1
        for when, count in self.counts:
            if count != last or since is None:
                since, last = when, count
            elif count < until:
                longest = max(longest, when - since)
        return longest


@dataclass
class Pipeline:
    names: DemoNames
    kafka: KafkaSettings
    clusters: list[ClusterConfig]
    groups: GroupNames
    path: Path
    services: list[Child]
    collectors: list[Child]

    @property
    def children(self) -> list[Child]:
        return self.services + self.collectors


@pytest.fixture
def pipeline(cluster: StackConfig, ads: Ads, unique: str) -> Iterator[Pipeline]:
    """Topics (3 replicas, 2 in sync), a converter and the two search sinks running; collectors not started."""
    stack.raise_failures(stack.up(cluster, ["kafka"]))  # every node up, whatever an earlier test left
    names = DemoNames(f"t{unique}-failover")
    path = workdir.write(names, cluster)
    kafka = KafkaSettings(
        bootstrap_servers=cluster.endpoints()["kafka"],
        topic_prefix=names.topic_prefix,
        replication_factor=3,
        min_insync_replicas=2,
    )
    create_topics(kafka)
    logs = path / "logs"
    services = [Child(t, ["sink", k if k == "opensearch" else "es"], logs / f"sink-{t}.log", processes.free_port())
                for t, k in TARGETS.items()]  # fmt: skip
    services.append(Child("converter", ["converter"], logs / "converter.log", processes.free_port()))
    collectors = [
        Child(f"collector-{source}", ["collector", "--from-file", str(file), "--source", source, "--pool", "Global",
                                      "--rate", str(RATE * count / ads.files.total)], logs / f"collector-{source}.log")
        for source, file, count in (("queue", ads.files.queue, ads.files.queue_ads),
                                    ("history", ads.files.history, ads.files.history_ads))
    ]  # fmt: skip
    clusters = load_es_clusters(path / "etc" / "es_conf.json")
    groups = GroupNames(kafka, converter=names.converter_group, sink_prefix=names.sink_group_prefix)
    run = Pipeline(names, kafka, clusters, groups, path, services, collectors)
    try:
        for child in services:
            processes.start(child, path)
        deadline = time.monotonic() + 90
        while not all(scrape(c.metrics_port) for c in services):
            assert time.monotonic() < deadline, "services did not start: " + _tails(services)
            time.sleep(0.5)
        yield run
    finally:
        processes.stop(run.children)
        for search in clusters:  # the cluster's topics and groups go with it; the shared engines keep nothing
            client = search_clients.client(search, timeout_s=30.0)
            remove_indices(client, names.index_prefix)
            client.close()


def _tails(children: list[Child]) -> str:
    return "\n".join(f"--- {c.name} (exit {c.exit_code()}):\n{c.log_tail(30)}" for c in children)


def _keys(kafka: KafkaSettings, ranges: dict[TP, tuple[int, int]]) -> list[bytes]:
    """The keys of the messages from `start` to before `end` of each partition."""
    return _read(kafka, ranges, lambda msg: msg.key())


def _read(kafka: KafkaSettings, ranges: dict[TP, tuple[int, int]], take):
    """`take(message)` of the messages from `start` to before `end` of each partition."""
    pending = {tp: end for tp, (start, end) in ranges.items() if start < end}
    if not pending:
        return []
    reader = kafka_clients.reader(kafka, "failover-test")
    reader.assign([TopicPartition(t, p, ranges[(t, p)][0]) for t, p in pending])
    taken, deadline = [], time.monotonic() + 30
    while pending and time.monotonic() < deadline:
        for msg in reader.consume(1000, 0.5):
            tp = (msg.topic(), msg.partition())
            if msg.error() is None and tp in pending and msg.offset() < pending[tp]:
                taken.append(take(msg))
            if tp in pending and (msg.error() is not None or msg.offset() >= pending[tp] - 1):
                del pending[tp]
    reader.close()
    assert not pending, f"could not read {pending}"
    return taken


def _ends(kafka: KafkaSettings, names: tuple[str, ...]) -> dict[TP, int]:
    """The end offset of every partition of the topics."""
    reader = kafka_clients.reader(kafka, "failover-test")
    ends = {}
    for topic in (kafka.topic(name) for name in names):
        for p in range(PARTITIONS):
            ends[(topic, p)] = reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
    reader.close()
    return ends


def _written(kafka: KafkaSettings, names: tuple[str, ...]) -> list[float]:
    """When each message of the topics was written (its timestamp, epoch seconds), in order."""
    ranges = {tp: (0, end) for tp, end in _ends(kafka, names).items()}
    return sorted(_read(kafka, ranges, lambda msg: msg.timestamp()[1] / 1000))


def _longest_pause(kafka: KafkaSettings, names: tuple[str, ...]) -> float:
    """The longest time, in seconds, between two consecutive messages written to the topics."""
    return max((b - a for a, b in itertools.pairwise(_written(kafka, names))), default=0.0)


def _leader_of_most(kafka: KafkaSettings) -> int:
    """The broker that leads the most raw and document partitions."""
    reader = kafka_clients.reader(kafka, "failover-test")
    metadata = reader.list_topics(timeout=10)
    reader.close()
    leaders: dict[int, int] = {}
    for name in STREAMED:
        for partition in metadata.topics[kafka.topic(name)].partitions.values():
            leaders[partition.leader] = leaders.get(partition.leader, 0) + 1
    return max(leaders, key=leaders.__getitem__)


def _kill(cluster: StackConfig, node: int, sig: int) -> None:
    pid_file = cluster.state_dir / f"kafka-{node}" / "pid"
    pid = process.running_pid(pid_file)
    assert pid is not None, f"kafka-{node} is not running"
    os.killpg(pid, sig)
    while process.group_members(pid):
        process.exited_early(pid)
        time.sleep(0.1)


def _all_ids(client, pattern: str) -> list[str]:
    """Every document id in the indices (with repeats, if a document were in two indices)."""
    client.indices.refresh(index=pattern)
    body = {"query": {"match_all": {}}, "_source": False, "size": 5000}
    reply = client.search(index=pattern, body=body, scroll="2m")
    found: list[str] = []
    while reply["hits"]["hits"]:
        found += [hit["_id"] for hit in reply["hits"]["hits"]]
        reply = client.scroll(scroll_id=reply["_scroll_id"], scroll="2m")
    client.clear_scroll(scroll_id=reply["_scroll_id"])
    return found


def _stream(run: Pipeline, ads: Ads, fault) -> Watch:
    """Start the collectors, run `fault()` once FAULT_AFTER_S have passed, and wait until both engines hold every
    document; returns the watch (stopped)."""
    clients = {kind: search_clients.client(c, timeout_s=10.0) for c in run.clusters for kind in [c.kind]}
    sinks = {run.groups.sink(t): k for t, k in TARGETS.items()}
    watch = Watch(run.kafka, clients, run.names.index_pattern, run.names.converter_group, sinks, ads)
    try:
        for child in run.collectors:
            processes.start(child, run.path)
        time.sleep(FAULT_AFTER_S)
        fault()
        deadline = time.monotonic() + LANDED_WITHIN_S
        while not (watch.counts and watch.counts[-1][1] >= len(ads.ids)):
            assert time.monotonic() < deadline, f"not everything landed: {watch.counts[-1:]}\n" + _tails(run.children)
            assert all(c.exit_code() is None for c in run.services), "a service died:\n" + _tails(run.services)
            time.sleep(1.0)
        raw = sum(_ends(run.kafka, (topics.RAW_QUEUE, topics.RAW_HISTORY)).values())
        documents = sum(_ends(run.kafka, (topics.DOCS_QUEUE, topics.DOCS_HISTORY)).values())
        ends = {run.names.converter_group: raw} | dict.fromkeys(sinks, documents)
        deadline = time.monotonic() + COMMITS_WITHIN_S
        while lagging := {g: f"{watch.covered(g)} of {end}" for g, end in ends.items() if watch.covered(g) != end}:
            assert time.monotonic() < deadline, (  # the last commits checked too
                f"the groups did not commit their last offsets: {lagging}; the watch's last errors: "
                f"{watch.errors[-3:]}\n" + _tails(run.services)
            )
            time.sleep(1.0)
    finally:
        watch.stop()
        for client in clients.values():
            client.close()
    return watch


def _assert_landed_once(run: Pipeline, ads: Ads, watch: Watch) -> None:
    assert [c.exit_code() for c in run.collectors] == [0, 0], _tails(run.collectors)
    assert all(c.exit_code() is None for c in run.services), _tails(run.services)
    for kind in TARGETS.values():
        [cluster] = [c for c in run.clusters if c.kind == kind]
        client = search_clients.client(cluster, timeout_s=30.0)
        ids = _all_ids(client, run.names.index_pattern)
        client.close()
        assert set(ids) == ads.ids, f"{kind}: {len(ads.ids - set(ids))} lost, {len(set(ids) - ads.ids)} unexpected"
        assert len(ids) == len(ads.ids), f"{kind}: {len(ids) - len(set(ids))} documents in two indices"
    assert watch.ahead == [], watch.ahead  # checked up to the last commit of every group (_stream)


def _gaps(run: Pipeline, ads: Ads, watch: Watch) -> str:
    """The failover gap: the longest pause between two documents the converter wrote (their create times: it
    stops converting while Kafka does not acknowledge), and the longest time the searchable count of either
    engine stood still."""
    docs = _longest_pause(run.kafka, (topics.DOCS_QUEUE, topics.DOCS_HISTORY))
    search = watch.longest_gap(len(ads.ids))
    return f"longest pause: documents written {docs:.1f} s, searchable {search:.0f} s (1 s samples)"


def test_losing_the_leading_broker_loses_and_duplicates_nothing(cluster, ads, pipeline):
    victim = _leader_of_most(pipeline.kafka)
    restart = threading.Timer(DOWN_S, lambda: stack.up(cluster, [f"kafka-{victim}"]))

    def kill_and_restart_later() -> None:
        _kill(cluster, victim, signal.SIGKILL)
        restart.start()

    began = time.monotonic()
    watch = _stream(pipeline, ads, kill_and_restart_later)
    took = time.monotonic() - began
    restart.join()
    assert [o.state for o in stack.status(cluster)] == ["running"] * 3
    _assert_landed_once(pipeline, ads, watch)
    print(f"\nkafka-{victim} SIGKILLed, back after {DOWN_S:.0f} s: {len(ads.ids)} documents in {took:.0f} s; "
          + _gaps(pipeline, ads, watch))  # fmt: skip


def test_every_service_rides_out_a_restart_of_every_broker(cluster, ads, pipeline):
    times: dict[str, float] = {}

    def restart_all() -> None:
        times["stopping"] = time.time()
        stack.down(cluster)  # SIGTERM: each broker shuts down in order, the last one alone
        times["down"] = time.time()
        restart.start()

    def start_all() -> None:
        stack.raise_failures(stack.up(cluster, ["kafka"]))
        times["back"] = time.time()

    restart = threading.Timer(5.0, start_all)
    began = time.monotonic()
    watch = _stream(pipeline, ads, restart_all)
    took = time.monotonic() - began
    restart.join()
    _assert_landed_once(pipeline, ads, watch)
    written = _written(pipeline.kafka, (topics.DOCS_QUEUE, topics.DOCS_HISTORY))
    resumed = next((t - times["back"] for t in written if t > times["back"]), float("nan"))
    stop_s, start_s = times["down"] - times["stopping"], times["back"] - times["down"] - 5
    print(f"\nall 3 brokers stopped (in {stop_s:.0f} s), started 5 s later (healthy in {start_s:.0f} s): "
          f"{len(ads.ids)} documents in {took:.0f} s; documents written again {resumed:.1f} s after the last "
          f"broker was healthy; " + _gaps(pipeline, ads, watch))  # fmt: skip
