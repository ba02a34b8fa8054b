"""Runbook "Bad data sent", end to end, with the real commands against the stack's Kafka, Elasticsearch and
OpenSearch.

A converter release with a bug (git hash A, CoreHr in core-minutes: tests/integration/wrong_field_converter.py)
converts the demo's Global pool ads, collected during its rollout; `spider sink es` and `spider sink opensearch`
index them. Then the runbook's steps, each one the `spider` command an operator types: stop the converter, wait
for the sinks, purge hash A (dry run, then --yes), replay the converter group to the start of the rollout, start
the fixed converter (hash B). Both clusters must end with exactly the documents the correct conversion gives:
every id once, every document equal to the expected one (hash B, CoreHr right).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition

from deploy.demo.processes import spider_executable
from services.common import topics, version
from services.common.config import KafkaSettings
from services.common.dead_letter import Origin
from services.converter.convert import ConversionContext
from services.converter.pipeline import Converted, step

from .kafka_helpers import BOOTSTRAP, delete_topics
from .search_sink_support import PORTS, cleanup, search_client, shards_starting, wait_for

pytestmark = pytest.mark.integration

ADS = Path(__file__).resolve().parents[2] / "deploy" / "demo" / "ads"
WRONG_CONVERTER = Path(__file__).with_name("wrong_field_converter.py")
BAD, GOOD = "badc0ffee000", "600dc0ffee00"
CLUSTERS = {"es": "elasticsearch", "os": "opensearch"}


@dataclass
class Pipeline:
    """A private deployment: its own topic prefix, consumer groups, indices, config file and processes."""

    workdir: Path
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    children: list[subprocess.Popen] = field(default_factory=list)

    @property
    def kafka(self) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=BOOTSTRAP, topic_prefix=f"t-{self.token}.")

    @property
    def converter_group(self) -> str:
        return f"t-{self.token}-converter"

    @property
    def index_template(self) -> str:
        return f"t-{self.token}-cms"

    def write_config(self) -> None:
        etc = self.workdir / "etc"
        etc.mkdir(parents=True)
        clusters = [
            {"name": name, "kind": kind, "host": "127.0.0.1", "port": PORTS[kind], "scheme": "http"}
            for name, kind in CLUSTERS.items()
        ]
        (etc / "es_conf.json").write_text(json.dumps(clusters))
        (self.workdir / "spider.toml").write_text(
            f'workdir = "{self.workdir}"\nlog_format = "json"\n'
            f'[kafka]\nbootstrap_servers = "{BOOTSTRAP}"\ntopic_prefix = "{self.kafka.topic_prefix}"\n'
            f'[converter]\ngroup_id = "{self.converter_group}"\ncommit_interval_s = 0.5\n'
            f'[sinks]\nconsumer_group_prefix = "t-{self.token}-sink"\nindex_template = "{self.index_template}"\n'
            "number_of_replicas = 0\nlinger_s = 0.2\n"
        )

    def env(self, git_hash: str) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("SPIDER_")}
        return {**inherited, "SPIDER_CONFIG": str(self.workdir / "spider.toml"), "SPIDER_GIT_HASH": git_hash}

    def run(self, *args: str, git_hash: str = GOOD, ok: tuple[int, ...] = (0,)) -> str:
        """One `spider` command to completion; its stdout."""
        done = subprocess.run(
            [spider_executable(), *args], env=self.env(git_hash), capture_output=True, text=True, timeout=120
        )
        assert done.returncode in ok, f"spider {' '.join(args)}: exit {done.returncode}\n{done.stderr[-3000:]}"
        return done.stdout

    def start(self, name: str, command: list[str], git_hash: str = GOOD) -> subprocess.Popen:
        """A long-running service, logging to <workdir>/<name>.log."""
        with (self.workdir / f"{name}.log").open("ab") as log:
            child = subprocess.Popen(command, env=self.env(git_hash), stdout=log, stderr=subprocess.STDOUT)
        self.children.append(child)
        return child

    def stop(self, child: subprocess.Popen) -> None:
        """What `kubectl scale --replicas=0` does: SIGTERM, and wait for the clean exit."""
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=60) == 0, f"exit {child.returncode}"

    def status(self) -> dict[str, dict]:
        """`spider status --json`, by group id."""
        return {g["group"]: g for g in json.loads(self.run("status", "--json"))["groups"]}


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    deployment = Pipeline(tmp_path)
    deployment.write_config()
    yield deployment
    for child in deployment.children:
        if child.poll() is None:
            child.kill()
            child.wait()
    delete_topics(deployment.kafka, [deployment.kafka.topic(spec.name) for spec in topics.TOPICS])
    for kind in CLUSTERS.values():
        cleanup(search_client(kind), deployment.index_template)


def raw_messages(kafka: KafkaSettings) -> list[bytes]:
    """Every message of the raw topics, read from the beginning without any consumer group."""
    consumer = Consumer({**kafka.client_config(), "group.id": f"reader-{uuid.uuid4().hex[:8]}"})
    values: list[bytes] = []
    for name in (topics.RAW_HISTORY, topics.RAW_QUEUE):
        topic = kafka.topic(name)
        for partition in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            if high <= low:
                continue
            consumer.assign([TopicPartition(topic, partition, low)])
            while high > low:
                msg = consumer.poll(5)
                assert msg is not None and msg.error() is None, f"cannot read {topic}:{partition}"
                values.append(msg.value())
                low = msg.offset() + 1
    consumer.close()
    return values


def correct_documents(raw: list[bytes]) -> dict[str, dict]:
    """Document id -> body, as the fixed release (hash B) converts these raw ads; the test's oracle."""
    context = ConversionContext(
        affiliations=None,  # the private workdir has no affiliation file, like the converter processes
        git_hash=GOOD,
        hostname=version.hostname(),
        username=version.username(),
        converter_version=version.package_version(),
    )
    outcomes = [step(value, context, Origin(), {}) for value in raw]
    return {o.key.decode(): orjson.loads(o.value) for o in outcomes if isinstance(o, Converted)}


def indexed(kind: str, pattern: str) -> list[dict]:
    """Every document of the test's indices; none while a just-created index cannot be searched yet."""
    search = search_client(kind)
    try:
        search.indices.refresh(index=pattern)
        return search.search(index=pattern, body={"size": 10000, "query": {"match_all": {}}})["hits"]["hits"]
    except Exception as exc:
        if shards_starting(exc):
            return []
        raise


def hashes(kind: str, pattern: str) -> list[str]:
    return [hit["_source"]["metadata"]["spider_git_hash"] for hit in indexed(kind, pattern)]


def sinks_caught_up(pipeline: Pipeline) -> bool:
    groups = [g for name, g in pipeline.status().items() if name.startswith(f"t-{pipeline.token}-sink-")]
    return len(groups) == len(CLUSTERS) and all(g["lag"] == 0 for g in groups)


def committed(group: dict) -> dict[tuple[str, int], int | None]:
    return {(p["topic"], p["partition"]): p["committed"] for p in group["partitions"]}


def test_bad_release_purged_and_rebuilt_from_the_raw_topics_in_both_clusters(pipeline: Pipeline):
    spider = spider_executable()
    pattern = f"{pipeline.index_template}-*"
    pipeline.run("topics", "create", "--partitions", "2")
    sinks = {kind: pipeline.start(f"sink-{kind}", [spider, "sink", kind]) for kind in ("es", "opensearch")}

    # the rollout of the bad release starts at T; the ads collected meanwhile wait in Kafka for it
    incident = str(int(time.time()) - 1)
    pipeline.run("collector", "--from-file", str(ADS / "global-history.ads"), "--pool", "Global", ok=(0, 4))
    pipeline.run("collector", "--from-file", str(ADS / "global-queue.ads"), "--source", "queue", "--pool", "Global")
    bad_started = str(int(time.time()) + 1)
    bad = pipeline.start("converter-A", [sys.executable, str(WRONG_CONVERTER), "converter"], git_hash=BAD)
    expected = correct_documents(raw_messages(pipeline.kafka))
    assert len(expected) > 150, "the demo's Global pool ads give history and queue documents"
    for kind in CLUSTERS.values():
        wait_for(lambda k=kind: hashes(k, pattern) == [BAD] * len(expected), 90, f"{kind} to index release A")
    wrong = {hit["_source"]["GlobalJobId"]: hit for hit in indexed("elasticsearch", pattern)}
    for doc_id, doc in expected.items():
        assert wrong[doc["GlobalJobId"]]["_id"] != doc_id, "release A gives other ids"
        assert wrong[doc["GlobalJobId"]]["_source"]["CoreHr"] == pytest.approx(doc["CoreHr"] * 60), "and is wrong"

    # 1. the hash of the bad deployment
    assert BAD in pipeline.run("version", git_hash=BAD)
    # 2. stop the converter; 3. the sinks write what is already converted
    pipeline.stop(bad)
    wait_for(lambda: sinks_caught_up(pipeline), 60, "every sink group to reach lag 0")
    # 4. count, then delete the documents of hash A in every cluster
    dry = pipeline.run("purge", "--git-hash", BAD)
    assert dry.count(f"indices {pattern}: {len(expected)} document(s)") == len(CLUSTERS), dry
    assert "Dry run: nothing deleted" in dry
    assert all(len(hashes(kind, pattern)) == len(expected) for kind in CLUSTERS.values())
    purged = pipeline.run("purge", "--git-hash", BAD, "--yes")
    assert purged.count(f"deleted: {len(expected)}") == len(CLUSTERS), purged
    # 5. the request for MONIT's copies
    assert f"data.metadata.spider_git_hash = {BAD!r}" in purged
    assert all(hashes(kind, pattern) == [] for kind in CLUSTERS.values())

    # 6. the fixed release is deployed, stopped; its group goes back to the start of the incident
    before = committed(pipeline.status()[pipeline.converter_group])
    too_late = pipeline.run("replay", pipeline.converter_group, "--to-time", bad_started)
    assert "(0 message(s) would be re-read)" in too_late, "why T is the start of the rollout, not of release A"
    plan = pipeline.run("replay", pipeline.converter_group, "--to-time", incident)
    assert "Dry run: nothing changed" in plan
    assert committed(pipeline.status()[pipeline.converter_group]) == before
    applied = pipeline.run("replay", pipeline.converter_group, "--to-time", incident, "--yes")
    raw_count = sum(offset for offset in before.values() if offset)
    assert f"will re-read {raw_count} message(s)" in applied, applied
    # 7. start it: the raw ads of the incident are converted again with hash B
    fixed = pipeline.start("converter-B", [spider, "converter"], git_hash=GOOD)
    # 8. until the converter's lag is back to normal and nothing of hash A is left
    wait_for(lambda: pipeline.status()[pipeline.converter_group]["lag"] == 0, 90, "the converter to catch up")
    for kind in CLUSTERS.values():
        wait_for(lambda k=kind: len(hashes(k, pattern)) == len(expected), 60, f"{kind} to index release B")
    wait_for(lambda: sinks_caught_up(pipeline), 60, "every sink group to reach lag 0")
    assert pipeline.run("purge", "--git-hash", BAD).count(f"indices {pattern}: 0 document(s)") == len(CLUSTERS)
    pipeline.stop(fixed)

    for kind in CLUSTERS.values():
        hits = indexed(kind, pattern)
        assert len(hits) == len(expected), f"{kind}: every id exactly once"
        assert {hit["_id"]: hit["_source"] for hit in hits} == expected, f"{kind}: the correct documents"

    # Later, OpenSearch is refilled from the document topics, which still hold release A's documents: the
    # purge recorded hash A, so the sink skips them; not one is indexed at any moment of the replay.
    pipeline.stop(sinks["opensearch"])
    os_group = next(g for g in pipeline.status() if g.startswith(f"t-{pipeline.token}-sink-opensearch"))
    assert "will re-read" in pipeline.run("replay", os_group, "--to-earliest", "--yes")
    sinks["opensearch"] = pipeline.start("sink-opensearch-replay", [spider, "sink", "opensearch"])
    while True:  # sampled from the start of the replay until the group caught up
        assert BAD not in hashes("opensearch", pattern), "a purged document came back"
        if sinks_caught_up(pipeline):
            break
    pipeline.stop(sinks["opensearch"])
    assert {hit["_id"]: hit["_source"] for hit in indexed("opensearch", pattern)} == expected
    listed = pipeline.run("purge", "--list")
    assert BAD in listed and f"opensearch-os: {len(expected)}" in listed, listed
