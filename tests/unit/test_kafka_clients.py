"""services/common/kafka.py and services/common/backoff.py: how every client is built, and the one backoff."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from confluent_kafka import KafkaException

from services.common import kafka, topics
from services.common.backoff import Backoff, delay
from services.common.config import MIB, KafkaSettings
from services.sinks.amq import Credentials, StompSender
from services.sinks.config import AmqSettings

UNREACHABLE = KafkaSettings(bootstrap_servers="127.0.0.1:1")  # nothing listens on port 1: connect is refused


def test_librdkafka_lines_go_through_the_service_logger(caplog):
    producer = kafka.producer(UNREACHABLE, (topics.DOCS_QUEUE,))
    with caplog.at_level(logging.WARNING, logger="librdkafka"):
        deadline = time.monotonic() + 10
        while not caplog.records and time.monotonic() < deadline:
            producer.poll(0.1)
    assert caplog.records, "no librdkafka line reached the logging module"
    assert "Connection refused" in caplog.records[0].getMessage()


@pytest.mark.parametrize(("destination", "limit_mb"), [(topics.DOCS_QUEUE, 8), (topics.RAW_QUEUE, 12)])
def test_a_producer_refuses_a_message_larger_than_its_destinations_take(destination, limit_mb):
    producer = kafka.producer(UNREACHABLE, (destination,))
    producer.produce("any", b"x" * int((limit_mb - 1) * MIB))  # fits: queued
    with pytest.raises(KafkaException, match="MSG_SIZE_TOO_LARGE"):
        producer.produce("any", b"x" * int((limit_mb + 1) * MIB))
    producer.purge()


def test_a_producer_for_a_table_topic_takes_librdkafkas_default_size():
    producer = kafka.producer(UNREACHABLE, ())
    producer.produce("any", b"x" * 900_000)
    with pytest.raises(KafkaException, match="MSG_SIZE_TOO_LARGE"):
        producer.produce("any", b"x" * 1_100_000)
    producer.purge()


@pytest.mark.parametrize(("base", "cap"), [(0.5, 30.0), (1.0, 4.0), (0.1, 0.1)])
def test_delays_double_with_jitter_up_to_the_cap(base, cap):
    for attempt in range(12):
        ceiling = min(cap, base * 2**attempt)
        samples = [delay(attempt, base, cap) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in samples)
    assert delay(10_000, base, cap) <= cap


def test_a_wait_ends_at_once_when_its_event_is_set():
    stop = threading.Event()
    backoff = Backoff(30.0, 30.0, stop)
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    assert backoff.wait() is False
    assert time.monotonic() - started < 2


def test_an_amq_round_with_every_broker_down_fails_at_once_leaving_the_wait_to_the_runner():
    sender = StompSender(AmqSettings(hosts=["127.0.0.1:1", "127.0.0.1:2"], connect_timeout_s=2), Credentials())
    rounds = []
    for _ in range(3):
        started = time.monotonic()
        with pytest.raises(Exception, match="no ActiveMQ broker reachable"):
            sender.send_all("/topic/t", {}, [b"{}"])
        rounds.append(time.monotonic() - started)
    # a refused connection takes the same time in every round; a wait of its own would add >= 0.5 s to the later ones
    assert max(rounds[1:]) < rounds[0] + 0.4, rounds
