"""Ready means ready: on a Kafka whose data directory was just created, the first `spider demo` is green (its
admin work waits for the group coordinator instead of failing with "Not coordinator"), and `spider status`
says within 5 s that a Kafka nobody listens for is unreachable.

Each demo round starts a private single-broker Kafka in a new state dir on free ports; Elasticsearch, OpenSearch
and ActiveMQ are the local stack's, reused as they run. The shared broker is never touched.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import time

import pytest
from confluent_kafka import KafkaError, KafkaException

from deploy.demo.processes import free_port, spider_executable
from deploy.local import process, stack
from deploy.local.config import load_stack_config
from services.common import kafka as kafka_clients
from services.common import search_clients
from services.common.config import ClusterConfig, KafkaSettings

from .search_sink_support import cleanup as remove_indices

pytestmark = pytest.mark.integration

ROUNDS = 5


def _spider(env: dict[str, str], *args: str, timeout: float = 480) -> subprocess.CompletedProcess[str]:
    return subprocess.run([spider_executable(), *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_the_demo_is_green_at_its_first_run_on_a_just_created_kafka_five_times_in_a_row(
    tmp_path, stack, stack_config, unique
):
    search = [
        ClusterConfig(name=kind, kind=kind, host=stack_config.host, port=stack_config.port(kind), scheme="http")
        for kind in ("elasticsearch", "opensearch")
    ]
    for round_ in range(1, ROUNDS + 1):
        state = tmp_path / f"stack-{round_}"
        env = os.environ | {
            "SPIDER_STACK_DIR": str(state),
            "SPIDER_STACK_KAFKA_PORT": str(free_port() - stack_config.port_offset),
            "SPIDER_STACK_KAFKA_CONTROLLER_PORT": str(free_port() - stack_config.port_offset),
            "COLUMNS": "200",
        }
        name = f"t{unique}-cold{round_}"
        try:
            demo = _spider(env, "demo", "--name", name, "--timeout", "240")
        finally:
            _spider(env, "stack", "down", timeout=120)
            for cluster in search:
                client = search_clients.client(cluster, timeout_s=30.0)
                remove_indices(client, f"spider-{name}")
                client.close()
        assert re.search(r"^ +kafka +started ", demo.stdout, re.M), demo.stdout[-2000:]  # a broker formatted just now
        assert demo.returncode == 0, f"round {round_}:\n{demo.stdout[-3000:]}\n{demo.stderr[-3000:]}"
        assert "All 217 documents landed" in demo.stdout


def test_a_group_request_right_after_kafka_starts_waits_for_the_coordinator_instead_of_failing(tmp_path, caplog):
    cfg = load_stack_config(dir=tmp_path, kafka_port=free_port(), kafka_controller_port=free_port())
    [broker] = stack.select(cfg, ["kafka"])
    broker.prepare()  # a new data directory, formatted now
    process.spawn(broker.command(), cwd=broker.dir, env=broker.env(), log=broker.log, pid_file=broker.pid_file)
    kafka = KafkaSettings(bootstrap_servers=cfg.endpoints()["kafka"])
    admin = kafka_clients.admin(kafka)
    try:
        kafka_clients.reachable(admin, kafka, timeout_s=120)  # a broker answers: no wait for the coordinator
        with caplog.at_level(logging.INFO), pytest.raises(KafkaException) as answer:
            kafka_clients.coordinated(
                admin, kafka, lambda: admin.delete_consumer_groups(["spider-demo-converter"])["spider-demo-converter"],
                "deleting consumer group spider-demo-converter",
            )  # fmt: skip
    finally:
        process.stop(broker.pid_file)
    assert answer.value.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND  # Kafka's answer, not "Not coordinator"
    print(f"\n{caplog.text.strip() or 'the coordinator was ready at the first request'}")


def test_status_says_within_5_s_that_kafka_is_unreachable(tmp_path):
    closed = free_port()  # bound and released: nothing listens there
    env = os.environ | {"SPIDER_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{closed}", "SPIDER_WORKDIR": str(tmp_path)}
    began = time.monotonic()
    status = _spider(env, "status", timeout=60)
    took = time.monotonic() - began

    assert status.returncode == 1
    assert f"spider: error: Kafka at 127.0.0.1:{closed} is unreachable" in status.stderr
    assert "Connection refused" in status.stderr  # librdkafka's reason, logged while the probe waited
    assert took < 5.0, f"took {took:.1f} s"


def test_topic_creation_logs_why_kafka_does_not_answer_while_it_waits(tmp_path):
    closed = free_port()
    env = os.environ | {
        "SPIDER_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{closed}",
        "SPIDER_WORKDIR": str(tmp_path),
        "SPIDER_LOG_FORMAT": "json",
    }
    creating = subprocess.Popen(
        [spider_executable(), "topics", "create"], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    time.sleep(8)  # it waits up to 60 s for Kafka; the reason must be in its log long before
    still_waiting = creating.poll() is None
    creating.kill()
    _, err = creating.communicate(timeout=30)

    assert still_waiting
    assert f"Connect to ipv4#127.0.0.1:{closed} failed: Connection refused" in err.decode()
