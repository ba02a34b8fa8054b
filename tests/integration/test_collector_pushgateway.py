"""CronJob mode: nothing scrapes a `spider collector --once` run, so it pushes its metrics to a Pushgateway
(SPIDER_PUSHGATEWAY_URL), the real one from Debian's prometheus-pushgateway, started privately here."""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from deploy.demo.processes import free_port, spider_executable

from .activemq import port_open
from .search_sink_support import wait_for
from .test_collector_kafka import kafka, pool_dir  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("prometheus-pushgateway")
    assert binary, "prometheus-pushgateway missing: scripts/test installs it (Debian package prometheus-pushgateway)"
    port = free_port()
    with (tmp_path / "pushgateway.log").open("wb") as log:
        gateway = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=log)
    try:
        wait_for(lambda: port_open(port), timeout=20, what="the Pushgateway's port")
        yield f"http://127.0.0.1:{port}"
    finally:
        gateway.terminate()
        gateway.wait(timeout=10)


def run_once(kafka, pool: Path, pushgateway_url: str) -> subprocess.CompletedProcess[str]:  # noqa: F811
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPIDER_")} | {
        "SPIDER_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "SPIDER_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
        "SPIDER_PUSHGATEWAY_URL": pushgateway_url,
        "SPIDER_LOG_FORMAT": "json",
    }
    command = [spider_executable(), "collector", "--once", "--source", "queue", "--pool-dir", str(pool)]
    command += ["--workdir", str(pool.parent)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def pushed(url: str) -> dict[tuple[str, frozenset], float]:
    text = urllib.request.urlopen(f"{url}/metrics", timeout=10).read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_once_run_pushes_each_schedds_last_success_under_the_collector_job(kafka, pool_dir, pushgateway):  # noqa: F811
    run = run_once(kafka, pool_dir, pushgateway)
    assert run.returncode == 0, run.stderr[-3000:]
    samples = pushed(pushgateway)
    successes = {
        dict(labels)["schedd"]: dict(labels)["kind"]
        for (name, labels), _ in samples.items()
        if name == "spider_collector_last_success_timestamp_seconds"
    }
    assert {"crab3@vocms0155.cern.ch", "vocms0267.cern.ch"} <= set(successes)
    assert set(successes.values()) == {"queue"}
    assert {dict(labels)["job"] for (name, labels) in samples if name.startswith("spider_collector_")} == {
        "spider-collector"
    }
    assert any(name == "push_time_seconds" for name, _ in samples)


def test_an_unreachable_pushgateway_costs_the_metrics_not_the_run(kafka, pool_dir):  # noqa: F811
    run = run_once(kafka, pool_dir, f"http://127.0.0.1:{free_port()}")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "cannot push metrics to the Pushgateway" in run.stderr + run.stdout
