"""Kafka -> `spider sink amq` -> ActiveMQ: every document arrives, through broker outages and SIGKILLs.

The destination is a queue on a private, persistent broker so that what the sink had confirmed is still there
to be counted after the broker or the sink was killed; production sends the same frames to a topic.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from services.common import dead_letter, document_message, topics
from services.sinks.config import AmqSettings, SinkConfig
from services.sinks.runner import SinkRunner

from .activemq import PrivateBroker, Subscriber
from .kafka_helpers import STACK, sink_topics

pytestmark = [
    pytest.mark.integration,
]


@dataclass
class Doc:
    id: str
    index_date: str
    source: str
    body: dict


def history_doc(n: int) -> Doc:
    record_time = 1700000000 + n
    global_job_id = f"vocms0255.cern.ch#{1000000 + n}.0#1699990000"
    body = {
        "GlobalJobId": global_job_id,
        "RecordTime": record_time,
        "QDate": 1699990000,
        "CompletionDate": record_time,
        "JobStatus": 4,
        "Status": "Completed",
        "Site": "T2_CH_CERN",
        "CpuEff": 91.0,
        "metadata": {"spider_source": "condor_history", "spider_git_hash": "0123456789ab"},
    }
    return Doc(f"{global_job_id}#{record_time}", "2023-11-14", "condor_history", body)


@pytest.fixture
def broker(tmp_path):
    broker = PrivateBroker(tmp_path / "activemq")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def kafka():
    with sink_topics(partitions=3) as private:
        yield private


def publish(kafka, docs: list[Doc]) -> None:
    producer = Producer(kafka.client_config())
    for doc in docs:
        key, value, headers = document_message.encode(doc, git_hash="0123456789ab")
        producer.produce(kafka.topic(topics.DOCS_HISTORY), value, key, headers=headers)
        producer.poll(0)
    assert producer.flush(30) == 0


def committed_everything(kafka, group: str) -> bool:
    topic = kafka.topic(topics.DOCS_HISTORY)
    consumer = Consumer({**kafka.client_config(), "group.id": group})
    try:
        committed = consumer.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
        return all(tp.offset == consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in committed)
    finally:
        consumer.close()


def wait_until(predicate, timeout: float, interval: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(interval)


def sink_config(kafka, broker, destination: str, group_prefix: str, workdir) -> SinkConfig:
    return SinkConfig(
        workdir=workdir,
        kafka=kafka,
        consumer_group_prefix=group_prefix,
        batch_size=100,
        linger_s=0.1,
        backoff_base_s=0.2,
        backoff_max_s=1.0,
        amq=AmqSettings(hosts=[f"127.0.0.1:{broker.port}"], topic=destination),
    )


def test_documents_reach_the_stack_broker_topic_and_a_mistyped_one_is_dead_lettered(kafka, tmp_path):
    from services.sinks import amq

    destination = f"/topic/t-{uuid.uuid4().hex[:8]}.cms.jobmon.condor"
    group_prefix = f"t-{uuid.uuid4().hex[:8]}-sink"
    docs = [history_doc(n) for n in range(200)]
    docs[7].body["JobStatus"] = "running"
    config = SinkConfig(
        workdir=tmp_path,
        kafka=kafka,
        consumer_group_prefix=group_prefix,
        batch_size=50,
        linger_s=0.1,
        amq=AmqSettings(hosts=[f"127.0.0.1:{STACK.port('stomp')}"], topic=destination, validation="dead-letter"),
    )
    subscriber = Subscriber(STACK.port("stomp"), destination)
    [target] = amq.targets(config)
    runner = SinkRunner(target, config)
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        publish(kafka, docs)
        wait_until(lambda: committed_everything(kafka, f"{group_prefix}-amq"), timeout=60)
    finally:
        runner.stop()
        thread.join(60)
    received = subscriber.wait_for(199)
    subscriber.close()

    assert {body["metadata"]["_id"] for _, body in received} == {d.id for d in docs if d is not docs[7]}
    headers, body = received[0]
    assert (headers["producer"], headers["persistent"]) == ("condor", "true")
    assert body["QDate"] == 1699990000000 and body["metadata"]["type"] == "metric"
    consumer = Consumer({**kafka.client_config(), "group.id": f"{group_prefix}-check", "auto.offset.reset": "earliest"})
    consumer.subscribe([kafka.topic(topics.DLQ_SINKS)])
    letter = None
    deadline = time.monotonic() + 30
    while letter is None and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            letter = dead_letter.decode(msg.value())
    consumer.close()
    assert letter is not None and letter.origin.key == docs[7].id.encode()
    assert "JobStatus (str)" in letter.reason


def test_a_broker_outage_mid_run_loses_nothing(kafka, broker, tmp_path):
    from services.sinks import amq

    destination = f"/queue/t-{uuid.uuid4().hex[:8]}.cms.jobmon.condor"
    group_prefix = f"t-{uuid.uuid4().hex[:8]}-sink"
    config = sink_config(kafka, broker, destination, group_prefix, tmp_path)
    docs = [history_doc(n) for n in range(3000)]
    publish(kafka, docs[:1500])
    [target] = amq.targets(config)
    runner = SinkRunner(target, config)
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        time.sleep(2)
        broker.stop()
        publish(kafka, docs[1500:])
        time.sleep(5)
        assert runner.ready() != True  # noqa: E712 - the runner reports the outage
        broker.start()
        wait_until(lambda: committed_everything(kafka, f"{group_prefix}-amq"), timeout=120)
    finally:
        runner.stop()
        thread.join(60)

    subscriber = Subscriber(broker.port, destination)
    wait_until(lambda: subscriber.ids() >= {d.id for d in docs}, timeout=60)
    received = subscriber.messages
    subscriber.close()
    assert {body["metadata"]["_id"] for _, body in received} == {d.id for d in docs}
    assert all(body["RecordTime"] >= 1700000000000 for _, body in received)


@pytest.mark.slow  # each SIGKILL leaves a dead group member until the Kafka session timeout
def test_five_sigkills_during_fifty_thousand_documents_lose_nothing(kafka, broker, tmp_path):
    destination = f"/queue/t-{uuid.uuid4().hex[:8]}.cms.jobmon.condor"
    group_prefix = f"t-{uuid.uuid4().hex[:8]}-sink"
    docs = [history_doc(n) for n in range(50_000)]
    publish(kafka, docs)
    env = {
        **os.environ,
        "SPIDER_WORKDIR": str(tmp_path),
        "SPIDER_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
        "SPIDER_CONSUMER_GROUP_PREFIX": group_prefix,
        "SPIDER_BATCH_SIZE": "100",
        "SPIDER_AMQ__HOSTS": f'["127.0.0.1:{broker.port}"]',
        "SPIDER_AMQ__TOPIC": destination,
        "SPIDER_LOG_FORMAT": "json",
    }
    command = [sys.executable, "-c", "from services.cli import main; main()", "sink", "amq"]
    subscriber = Subscriber(broker.port, destination)
    log = (tmp_path / "sink.log").open("ab")
    for _ in range(5):
        sink = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        goal = len(subscriber.messages) + 2000
        wait_until(lambda goal=goal: len(subscriber.messages) > goal, timeout=60, interval=0.05)
        sink.send_signal(signal.SIGKILL)
        sink.wait(30)
    assert len(subscriber.ids()) < len(docs), "every kill landed mid-stream"
    sink = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    try:
        wait_until(lambda: committed_everything(kafka, f"{group_prefix}-amq"), timeout=180)
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait(60)
    wait_until(lambda: subscriber.ids() >= {d.id for d in docs}, timeout=60)
    subscriber.close()
    assert subscriber.ids() == {d.id for d in docs}
