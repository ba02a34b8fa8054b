"""The operations port answers Prometheus and the orchestrator's probes over real HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Counter

from services.common import observability, version


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read().decode()


class Switch:
    """A readiness check the test flips, standing in for "Kafka connected"."""

    def __init__(self) -> None:
        self.state: bool | str = "kafka not connected"

    def __call__(self) -> bool | str:
        return self.state


@pytest.fixture
def switch() -> Switch:
    return Switch()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def server(switch: Switch, registry: CollectorRegistry) -> Iterator[observability.Server]:
    srv = observability.serve(0, switch, service="converter", host="127.0.0.1", registry=registry)
    assert srv is not None
    yield srv
    srv.close()


def test_no_port_means_no_server():
    assert observability.serve(None, lambda: True) is None


def test_healthz_is_ok_while_the_process_runs_even_when_not_ready(server):
    status, content_type, body = get(server.url + "/healthz")
    assert (status, content_type, json.loads(body)) == (200, "application/json", {"status": "alive"})


def test_readyz_is_503_with_the_reason_until_the_check_passes(server, switch):
    status, _, body = get(server.url + "/readyz")
    assert status == 503
    assert json.loads(body) == {"status": "not ready", "reason": "kafka not connected"}

    switch.state = True
    status, _, body = get(server.url + "/readyz")
    assert (status, json.loads(body)) == (200, {"status": "ready", "reason": "ready"})


def test_a_false_readiness_without_reason_is_503(server, switch):
    switch.state = False
    status, _, body = get(server.url + "/readyz")
    assert (status, json.loads(body)["reason"]) == (503, "not ready")


def test_a_crashing_readiness_check_is_503_and_hides_the_exception_message(registry):
    def broken() -> bool:
        raise ConnectionError("https://user:hunter2@es.example:9200 refused")

    srv = observability.serve(0, broken, host="127.0.0.1", registry=registry)
    try:
        status, _, body = get(srv.url + "/readyz")
    finally:
        srv.close()
    assert status == 503
    assert json.loads(body)["reason"] == "readiness check failed: ConnectionError"
    assert "hunter2" not in body


def test_metrics_serves_the_registry_in_prometheus_text_format(server, registry):
    docs = Counter("spider_converter_documents_out", "documents produced", ["topic"], registry=registry)
    docs.labels(topic="spider.docs.queue").inc(3)

    status, content_type, body = get(server.url + "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    assert 'spider_converter_documents_out_total{topic="spider.docs.queue"} 3.0' in body


def test_build_info_names_the_service_and_git_hash():
    observability.serve(None, lambda: True, service="sink-es")
    labels = {"service": "sink-es", "version": version.package_version(), "git_hash": version.git_hash()}
    assert REGISTRY.get_sample_value("spider_build_info", labels) == 1


def test_unknown_paths_are_404(server):
    status, _, body = get(server.url + "/")
    assert status == 404
    assert "/metrics" in json.loads(body)["paths"]
