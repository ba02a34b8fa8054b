"""`spider demo` end to end on the local stack: every number it prints is what the servers hold.

The demo runs as a user runs it (the `spider` command, a subprocess) under a private name, so its topics,
indices, groups and STOMP destination are this test's own. A STOMP subscriber counts what reaches ActiveMQ
independently of the sink's metrics; the search counts are asked of Elasticsearch and OpenSearch directly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from deploy.demo import cleanup, workdir
from deploy.demo.processes import spider_executable
from deploy.demo.workdir import DemoNames
from services.common import search_clients
from services.common.config import KafkaSettings, load_es_clusters
from services.recovery.kafka_view import KafkaView

from .activemq import Subscriber

pytestmark = pytest.mark.integration

# The bundled sample: 221 ads; 1 unparsable (collector), 2 rejected by the converter, 1 DAG root dropped.
EXPECTED_DOCUMENTS = 217
EXPECTED_DEAD_LETTERS = 3
SEARCH_LINE = re.compile(r"^(Elasticsearch|OpenSearch)\s+(\S+)\s+(\S+)\s+(\d+) documents in (\d+) indices$")
INDEX_LINE = re.compile(r"^ {4}(spider-\S+)\s+(\d+)$")
AMQ_LINE = re.compile(r"^ActiveMQ\s+\S+\s+(\S+)\s+(\d+) messages sent$")


def printed_counts(output: str) -> tuple[dict[str, int], dict[str, dict[str, int]], int]:
    """(total per engine, per index per engine, AMQ messages) as the demo printed them."""
    totals: dict[str, int] = {}
    per_index: dict[str, dict[str, int]] = {}
    amq = -1
    engine = None
    for line in output.splitlines():
        if match := SEARCH_LINE.match(line):
            engine = match.group(1)
            totals[engine] = int(match.group(4))
            per_index[engine] = {}
        elif (match := INDEX_LINE.match(line)) and engine:
            per_index[engine][match.group(1)] = int(match.group(2))
        elif match := AMQ_LINE.match(line):
            amq = int(match.group(2))
    return totals, per_index, amq


@pytest.fixture
def demo_names(stack, stack_config, unique):
    names = DemoNames(f"t{unique}-demo")  # no prefix of another demo's indices (spider-demo-*)
    yield names
    kafka = KafkaSettings(bootstrap_servers=stack.kafka_bootstrap, topic_prefix=names.topic_prefix)
    groups = [names.converter_group] + [
        f"{names.sink_group_prefix}-{t}" for t in ("es-local-es", "opensearch-local-os", "amq")
    ]
    cleanup.clean(names, kafka, load_es_clusters(names.workdir(stack_config) / "etc" / "es_conf.json"), groups)
    shutil.rmtree(names.workdir(stack_config), ignore_errors=True)


def test_demo_lands_every_document_and_prints_what_the_servers_hold(stack, stack_config, demo_names):
    subscriber = Subscriber(stack.stomp_port, demo_names.amq_destination, host=stack.stomp_host)
    try:
        run = subprocess.run(
            [spider_executable(), "demo", "--name", demo_names.name, "--timeout", "300",
             "--dir", str(stack_config.state_dir)],
            capture_output=True, text=True, timeout=480, env=os.environ | {"COLUMNS": "200"},
        )  # fmt: skip
        received = subscriber.wait_for(EXPECTED_DOCUMENTS, timeout=10)
    finally:
        subscriber.close()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    totals, per_index, amq = printed_counts(run.stdout)

    clusters = {c.kind: c for c in load_es_clusters(demo_names.workdir(stack_config) / "etc" / "es_conf.json")}
    for engine, kind in (("Elasticsearch", "elasticsearch"), ("OpenSearch", "opensearch")):
        client = search_clients.client(clusters[kind])
        client.indices.refresh(index=demo_names.index_pattern)
        held = {
            index: int(client.count(index=index)["count"])
            for index in client.indices.get(index=demo_names.index_pattern)
        }
        client.close()
        assert totals[engine] == sum(held.values()) == EXPECTED_DOCUMENTS
        assert per_index[engine] == held

    assert amq == len(received) == EXPECTED_DOCUMENTS
    assert len({body["metadata"]["_id"] for _, body in received}) == EXPECTED_DOCUMENTS

    kafka = KafkaSettings(bootstrap_servers=stack.kafka_bootstrap, topic_prefix=demo_names.topic_prefix)
    view = KafkaView(kafka)
    dlq = sum(end for _low, end in view.watermarks(view.partitions([kafka.topic("dlq.converter")])).values())
    assert dlq == EXPECTED_DEAD_LETTERS
    assert f"{demo_names.topic_prefix}dlq.converter {EXPECTED_DEAD_LETTERS} " in run.stdout
    assert still_running(demo_names, stack_config) == []


def still_running(names: DemoNames, stack_config) -> list[str]:
    pids = json.loads((names.workdir(stack_config) / "pids.json").read_text())
    assert len(pids) == 3 + 1 + len(workdir.SAMPLES)
    return [name for name, pid in pids.items() if os.path.exists(f"/proc/{pid}")]


def test_demo_that_does_not_finish_in_time_names_the_stage_and_stops_its_processes(stack, stack_config, demo_names):
    run = subprocess.run(
        [spider_executable(), "demo", "--name", demo_names.name, "--timeout", "1",
         "--dir", str(stack_config.state_dir)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 1
    assert "not everything landed within 1s; waiting for: " in run.stderr
    assert still_running(demo_names, stack_config) == []
