"""Every pipeline process answers on its operations port, and its counters follow the documents through it.

`spider converter`, `spider sink es` and `spider sink opensearch` run as processes on the stack, each with its
own metrics port; N raw history messages go in, and each process's /metrics must account for exactly those N.
"""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Producer

from bench.ads import raw_messages, realistic_ads
from deploy.demo.processes import Child, free_port, start, stop
from services.common import topics
from services.common.config import KafkaSettings
from services.common.topic_admin import create_topics

from .kafka_helpers import delete_topics, private_kafka
from .ops_endpoints import Samples, probe, scrape, total
from .search_sink_support import cleanup, count, local_cluster, search_client, wait_for, write_workdir

N = 300
TARGETS = {"es": "es-local-es", "opensearch": "opensearch-local-os"}
KINDS = {"es": "elasticsearch", "opensearch": "opensearch"}
OUTCOMES = ("converted", "dropped", "dead_lettered")


@pytest.fixture
def kafka():
    kafka = private_kafka()
    created = create_topics(kafka, partitions=2)
    yield kafka
    delete_topics(kafka, [outcome.name for outcome in created])


def publish_raw(kafka: KafkaSettings, messages: list[tuple[bytes | None, bytes]]) -> None:
    producer = Producer(kafka.client_config())
    for key, value in messages:
        producer.produce(kafka.topic(topics.RAW_HISTORY), value, key)
    assert producer.flush(30) == 0


def lag(samples: Samples, target: str) -> int | None:
    """The sink's consumer lag summed over topics; None until the sink has reported one."""
    values = [
        v for name, labels, v in samples if name == "spider_sink_consumer_lag_messages" and labels["target"] == target
    ]
    return int(sum(values)) if values else None


def test_operations_ports_answer_and_counters_follow_the_documents(kafka, tmp_path):
    prefix = f"t-{uuid.uuid4().hex[:8]}-cms"
    clusters = [local_cluster("local-es", "elasticsearch"), local_cluster("local-os", "opensearch")]
    converter = f"""[converter]
group_id = "t-{uuid.uuid4().hex[:8]}-converter"
datadir = "{tmp_path / "converter-data"}"
commit_interval_s = 0.5
"""
    write_workdir(tmp_path, kafka, prefix, clusters, sections=converter)
    logs = tmp_path / "logs"
    children = [
        Child("converter", ["converter"], logs / "converter.log", free_port()),
        *(Child(f"sink-{kind}", ["sink", kind], logs / f"sink-{kind}.log", free_port()) for kind in TARGETS),
    ]
    ports = {child.name: child.metrics_port for child in children}
    try:
        for child in children:
            start(child, tmp_path)
        for name, port in ports.items():
            wait_for(lambda port=port: probe(port, "/healthz") == 200, 60, f"{name} /healthz")
            wait_for(lambda port=port: probe(port, "/readyz") == 200, 60, f"{name} /readyz")

        publish_raw(kafka, raw_messages(realistic_ads(N, seed=7, kind="history")))

        def outcomes() -> dict[str, int]:
            samples = scrape(ports["converter"])
            counted = {o: total(samples, "spider_converter_messages_total", outcome=o) for o in OUTCOMES}
            return counted if sum(counted.values()) == N else {}

        counted = wait_for(outcomes, 90, f"the converter to account for {N} raw messages")
        assert counted["dead_lettered"] == 0
        documents = counted["converted"]  # the rest the conversion rules drop (a few of the sample ads)
        assert documents >= N * 0.9
        for kind, target in TARGETS.items():
            port = ports[f"sink-{kind}"]

            def out(port=port, target=target) -> int:
                return total(scrape(port), "spider_sink_documents_total", target=target, outcome="out")

            wait_for(lambda out=out: out() == documents, 90, f"{target} to write {documents} documents")
            wait_for(lambda port=port, target=target: lag(scrape(port), target) == 0, 30, f"{target} lag back to 0")
            samples = scrape(port)
            assert total(samples, "spider_sink_documents_total", target=target, outcome="in") == documents
            assert total(samples, "spider_sink_bulk_duration_seconds_count", target=target) > 0
            assert total(samples, "spider_sink_target_unavailable", target=target) == 0
            assert count(search_client(KINDS[kind]), prefix) == documents
    finally:
        ended = stop(children)
        for kind in KINDS.values():
            cleanup(search_client(kind), prefix)
    assert set(ended.values()) == {"exit 0"}, ended
