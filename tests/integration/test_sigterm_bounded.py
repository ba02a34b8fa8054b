"""SIGTERM ends every service (collector, converter, the three sinks) within 30 s, whatever it waits for: a Kafka
that stopped answering in the middle of the work, or targets that are down.

The Kafka that is frozen here is a private one, started in a temporary state dir on free ports; the shared stack
is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from bench.ads import raw_messages, realistic_ads
from deploy.demo.processes import Child, free_port, start, stop
from services.common import topics
from services.common.config import KafkaSettings
from services.common.topic_admin import create_topics

from .kafka_helpers import BOOTSTRAP, STACK
from .ops_endpoints import probe
from .search_sink_support import local_cluster, wait_for, write_workdir
from .test_collector_kafka import DATA, POOLS
from .test_converter_service import consume

pytestmark = pytest.mark.integration

SINKS = ("es", "opensearch", "amq")


@pytest.fixture(scope="module")
def private_kafka_server(tmp_path_factory) -> Iterator[tuple[str, int]]:
    """(bootstrap address, broker pid) of a Kafka of this module only."""
    state = tmp_path_factory.mktemp("stack")
    env = os.environ | {"SPIDER_STACK_DIR": str(state), "SPIDER_STACK_PORT_OFFSET": "0"}
    port = free_port()
    env |= {"SPIDER_STACK_KAFKA_PORT": str(port), "SPIDER_STACK_KAFKA_CONTROLLER_PORT": str(free_port())}
    up = subprocess.run(["spider", "stack", "up", "--only", "kafka"], env=env, capture_output=True, text=True)
    assert up.returncode == 0, up.stdout + up.stderr
    pid = int((state / "kafka" / "pid").read_text().split()[0])
    try:
        yield f"127.0.0.1:{port}", pid
    finally:
        os.kill(pid, signal.SIGCONT)
        subprocess.run(["spider", "stack", "down"], env=env, capture_output=True, timeout=120)


def workdir(tmp_path: Path, kafka: KafkaSettings, clusters: list[dict], amq_port: int) -> Path:
    """A service workdir: the clusters, the ActiveMQ broker, the collector's file pool and its collectors.json."""
    write_workdir(
        tmp_path,
        kafka,
        f"t-{uuid.uuid4().hex[:8]}-cms",
        clusters,
        sinks=f'[sinks.amq]\nhosts = ["127.0.0.1:{amq_port}"]\ntopic = "/topic/t-{uuid.uuid4().hex[:8]}"\n',
        sections=f'[converter]\ngroup_id = "t-{uuid.uuid4().hex[:8]}-converter"\ndatadir = "{tmp_path / "faust"}"\n',
    )
    (tmp_path / "etc" / "amq_username").write_text("spider\n")
    (tmp_path / "etc" / "amq_password").write_text("spider\n")
    (tmp_path / "etc" / "collectors.json").write_text(json.dumps(POOLS))
    shutil.copytree(DATA, tmp_path / "pool")
    return tmp_path


def services(path: Path, names: tuple[str, ...]) -> list[Child]:
    args = {"collector": ["collector", "--pool-dir", str(path / "pool")], "converter": ["converter"]}
    return [Child(name, args.get(name, ["sink", name]), path / "logs" / f"{name}.log", free_port()) for name in names]


def publish_raw(kafka: KafkaSettings, count: int) -> None:
    producer = Producer(kafka.client_config())
    for key, value in raw_messages(realistic_ads(count, seed=51, kind="history")):
        producer.produce(kafka.topic(topics.RAW_HISTORY), value, key)
        producer.poll(0)
    assert producer.flush(30) == 0


def test_every_service_ends_within_30_s_of_sigterm_while_kafka_does_not_answer(private_kafka_server, tmp_path):
    bootstrap, kafka_pid = private_kafka_server
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=f"t-{uuid.uuid4().hex[:8]}.")
    create_topics(kafka)
    publish_raw(kafka, 3000)
    clusters = [local_cluster("local-es", "elasticsearch"), local_cluster("local-os", "opensearch")]
    path = workdir(tmp_path, kafka, clusters, STACK.port("stomp"))
    children = services(path, ("collector", "converter", *SINKS))
    try:
        for child in children:
            start(child, path)
        wait_for(lambda: consume(kafka, topics.DOCS_HISTORY, 1, timeout=1), 90, "the first documents")
        os.kill(kafka_pid, signal.SIGSTOP)  # in the middle of the work: batches in flight, commits due
        ended = stop(children, grace_s=30)
    finally:
        os.kill(kafka_pid, signal.SIGCONT)
        stop(children)
    assert all(how.startswith("exit") for how in ended.values()), ended


def test_every_sink_ends_within_30_s_of_sigterm_while_its_target_is_down(tmp_path):
    kafka = KafkaSettings(bootstrap_servers=BOOTSTRAP, topic_prefix=f"t-{uuid.uuid4().hex[:8]}.")
    create_topics(kafka)
    publish_raw(kafka, 500)
    down = free_port()  # nothing listens there
    clusters = [local_cluster("down-es", "elasticsearch", down), local_cluster("down-os", "opensearch", down)]
    path = workdir(tmp_path, kafka, clusters, down)
    children = services(path, ("converter", *SINKS))
    try:
        for child in children:
            start(child, path)
        for child in children[1:]:
            wait_for(lambda child=child: probe(child.metrics_port, "/readyz") == 503, 90, f"{child.name} to wait")
        ended = stop(children, grace_s=30)
    finally:
        stop(children)
    assert set(ended.values()) == {"exit 0"}, ended
