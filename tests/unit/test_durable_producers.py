"""Every Kafka write of the services is durable on a replicated Kafka: one producer factory, acks=all and
idempotence, and topics created with the configured replication factor and min.insync.replicas."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from confluent_kafka import Producer

from services.common import kafka as kafka_clients
from services.common import topics
from services.common.config import ConfigError, KafkaSettings, load_settings
from services.converter.config import ConverterConfig

SERVICES = Path(__file__).resolve().parents[2] / "services"


def test_no_service_builds_a_kafka_producer_of_its_own():
    builders = [
        str(path.relative_to(SERVICES))
        for path in SERVICES.rglob("*.py")
        if re.search(r"\bProducer\(", path.read_text()) and path != SERVICES / "common" / "kafka.py"
    ]
    assert builders == []


@pytest.mark.parametrize("destinations", [(), (topics.RAW_QUEUE,), (topics.DOCS_QUEUE, topics.DLQ_CONVERTER)])
def test_every_producer_waits_for_all_in_sync_replicas_and_never_duplicates(monkeypatch, destinations):
    built: list[dict] = []

    def record(conf: dict) -> Producer:
        built.append(conf)
        return Producer({"bootstrap.servers": conf["bootstrap.servers"]})

    monkeypatch.setattr(kafka_clients, "Producer", record)
    kafka_clients.producer(KafkaSettings(), destinations, options={"linger.ms": 5})

    [conf] = built
    assert (conf["acks"], conf["enable.idempotence"]) == ("all", True)


def test_replication_settings_reach_every_service_from_the_environment(monkeypatch):
    monkeypatch.setenv("SPIDER_KAFKA__REPLICATION_FACTOR", "3")
    monkeypatch.setenv("SPIDER_KAFKA__MIN_INSYNC_REPLICAS", "2")
    kafka = load_settings(ConverterConfig).kafka
    assert (kafka.replication_factor, kafka.min_insync_replicas) == (3, 2)


def test_more_replicas_in_sync_than_replicas_is_refused(monkeypatch):
    monkeypatch.setenv("SPIDER_KAFKA__REPLICATION_FACTOR", "2")
    monkeypatch.setenv("SPIDER_KAFKA__MIN_INSYNC_REPLICAS", "3")
    with pytest.raises(ConfigError, match="min_insync_replicas 3 exceeds replication_factor 2"):
        load_settings(ConverterConfig)
