"""Elasticsearch stopped for 60 s during a run: the ES sink pauses, resumes and ends with every document exactly
once, while the OpenSearch sink, reading the same documents in its own consumer group, is not slowed.

The Elasticsearch here is a private one (own state dir and port, started with the stack's code) so that
stopping it never disturbs the shared stack; OpenSearch is the shared stack's. Both sinks run as `spider sink`
processes, as in production. Documents arrive at a steady rate for the whole run, so the OpenSearch sink's
indexing rate before and during the outage can be compared: the producer sets the pace, and a sink held back
by the other target would fall behind it.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer

from deploy.demo.processes import Child, free_port, start, stop
from deploy.local import process, stack
from deploy.local.config import StackConfig
from services.common import document_message, topics

from .kafka_helpers import sink_topics
from .ops_endpoints import probe, scrape, total
from .search_sink_support import cleanup, count, job_doc, local_cluster, search_client, wait_for, write_workdir

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RATE = 150  # documents per second, well below what either sink indexes on the shared 2-core machine
BEFORE_S = 20
OUTAGE_S = 60
AFTER_S = 10
ES_TARGET = "es-outage-es"
OS_TARGET = "opensearch-local-os"


def _free_search_port() -> int:
    """A free HTTP port whose transport port (+100, the stack's rule) is free too."""
    while True:
        port = free_port()
        if port + 100 < 65536:
            try:
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port + 100))
                return port
            except OSError:
                continue


@pytest.fixture
def private_es():
    """A private Elasticsearch; /var/tmp because the server runs as `nobody`, who cannot enter pytest's tmp."""
    state_dir = Path(f"/var/tmp/spider-es-outage-{uuid.uuid4().hex[:8]}")
    # port_offset 0: a SPIDER_STACK_PORT_OFFSET meant for the shared stack must not move the free port found here
    cfg = StackConfig(dir=state_dir, elasticsearch_port=_free_search_port(), port_offset=0)
    stack.raise_failures(stack.up(cfg, only=["elasticsearch"]))
    yield cfg
    process.stop(cfg.state_dir / "elasticsearch" / "pid")
    shutil.rmtree(cfg.state_dir, ignore_errors=True)


@pytest.fixture
def kafka():
    with sink_topics(partitions=2) as private:
        yield private


class SteadyPublisher(threading.Thread):
    """Publishes history documents at RATE per second until stopped; `published` is how many were delivered."""

    def __init__(self, kafka) -> None:
        super().__init__(daemon=True)
        self.kafka = kafka
        self.published = 0
        self._halt = threading.Event()

    def run(self) -> None:
        producer = Producer({**self.kafka.client_config(), "linger.ms": 20})
        topic = self.kafka.topic(topics.DOCS_HISTORY)
        began = time.monotonic()
        n = 0
        while not self._halt.is_set():
            due = int((time.monotonic() - began) * RATE)
            while n < due:
                key, value, headers = document_message.encode(job_doc(n, day=n % 2), git_hash="0123456789ab")
                producer.produce(topic, value, key, headers=headers)
                n += 1
            producer.poll(0)
            time.sleep(0.05)
        assert producer.flush(60) == 0
        self.published = n

    def finish(self) -> int:
        self._halt.set()
        self.join(90)
        return self.published


def _rate(search, prefix: str, seconds: float) -> float:
    """Documents per second that became searchable in the prefix's indices over the next `seconds`."""
    first, began = count(search, prefix), time.monotonic()
    time.sleep(seconds)
    return (count(search, prefix) - first) / (time.monotonic() - began)


def test_elasticsearch_down_for_a_minute_pauses_its_sink_only(private_es, kafka, tmp_path):
    prefix = f"t-{uuid.uuid4().hex[:8]}-cms"
    es_port = private_es.port("elasticsearch")
    es, opensearch = search_client("elasticsearch", es_port), search_client("opensearch")
    clusters = [local_cluster("outage-es", "elasticsearch", es_port), local_cluster("local-os", "opensearch")]
    sinks = "backoff_base_s = 0.2\nbackoff_max_s = 2.0\nrequest_timeout_s = 60\n"
    write_workdir(tmp_path, kafka, prefix, clusters, sinks=sinks)
    sinks = [
        start(Child("sink-es", ["sink", "es"], tmp_path / "logs" / "sink-es.log", free_port()), tmp_path),
        start(Child("sink-os", ["sink", "opensearch"], tmp_path / "logs" / "sink-os.log", free_port()), tmp_path),
    ]
    es_metrics = sinks[0].metrics_port
    publisher = SteadyPublisher(kafka)
    try:
        publisher.start()
        wait_for(lambda: count(opensearch, prefix) > 0 and count(es, prefix) > 0, 60, "both sinks to index")
        before = _rate(opensearch, prefix, BEFORE_S)

        process.stop(private_es.state_dir / "elasticsearch" / "pid")
        stopped, indexed = time.monotonic(), count(opensearch, prefix)
        wait_for(lambda: probe(es_metrics, "/readyz") == 503, 30, "the ES sink to report the outage")
        time.sleep(max(0.0, OUTAGE_S / 2 - (time.monotonic() - stopped)))
        consumed = total(scrape(es_metrics), "spider_sink_documents_total", target=ES_TARGET, outcome="in")
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped)))
        during = (count(opensearch, prefix) - indexed) / (time.monotonic() - stopped)
        samples = scrape(es_metrics)
        assert total(samples, "spider_sink_documents_total", target=ES_TARGET, outcome="in") == consumed, (
            "the ES sink kept consuming while Elasticsearch was down"
        )
        assert total(samples, "spider_sink_target_unavailable", target=ES_TARGET) == 1

        stack.raise_failures(stack.up(private_es, only=["elasticsearch"]))
        wait_for(lambda: probe(es_metrics, "/readyz") == 200, 60, "the ES sink to resume")
        time.sleep(AFTER_S)
        published = publisher.finish()

        wait_for(lambda: count(es, prefix) >= published, 180, "Elasticsearch to catch up")
        wait_for(lambda: count(opensearch, prefix) >= published, 60, "OpenSearch to catch up")
        assert count(es, prefix) == published  # ids are unique per document: equal counts mean exactly once
        assert count(opensearch, prefix) == published
        samples = scrape(es_metrics)
        # at least the stop; a bulk timing out on the loaded machine counts as one more, rightly
        assert total(samples, "spider_sink_outages_total", target=ES_TARGET) >= 1
        assert total(samples, "spider_sink_retries_total", target=ES_TARGET) > 0
        print(f"OpenSearch sink: {before:.0f} docs/s before, {during:.0f} docs/s while ES was down; {published} docs")
        # Both rates are set by the producer (RATE/s); the margin absorbs count timing and the shared machine.
        assert during >= 0.5 * before, f"OpenSearch slowed from {before:.0f} to {during:.0f} docs/s during the outage"
    finally:
        publisher.finish()
        ended = stop(sinks)
        cleanup(opensearch, prefix)
    assert ended == {"sink-es": "exit 0", "sink-os": "exit 0"}, ended
