"""Kafka -> `spider sink es|opensearch` -> the real Elasticsearch (9200) and OpenSearch (9201) of the local stack.

Each test has its own topics, consumer group, index template and index prefix.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer

from services.common import dead_letter, document_message, topics

from .kafka_helpers import sink_topics
from .search_sink_support import (
    PORTS,
    SHORT,
    TcpProxy,
    count,
    job_doc,
    publish,
    running,
    search_client,
    sink_config,
    wait_for,
    write_es_conf,
)

pytestmark = [
    pytest.mark.integration,
]


@pytest.fixture(params=["elasticsearch", "opensearch"])
def kind(request):
    return request.param


@pytest.fixture
def kafka():
    with sink_topics(partitions=3) as private:
        yield private


def test_documents_land_in_daily_indices_under_their_id_with_the_registry_mapping(kind, kafka, prefix, tmp_path):
    write_es_conf(tmp_path, kind, "local", PORTS[kind])
    config = sink_config(kafka, tmp_path, prefix, queue_index_template=f"{prefix}-queue")
    history = [job_doc(1, day=0), job_doc(2, day=1)]
    queued = job_doc(3, source="condor_queue", day=0, JobStatus=2, Status="Running")
    publish(kafka, history)
    publish(kafka, [queued], topic=topics.DOCS_QUEUE)
    search = search_client(kind)

    with running(config, kind, "local"):
        wait_for(lambda: count(search, prefix) == 3, 60, "3 documents")

    where = {hit["_id"]: hit["_index"] for hit in search.search(index=f"{prefix}-*", size=10)["hits"]["hits"]}
    assert where == {
        history[0].id: f"{prefix}-2024-03-05",
        history[1].id: f"{prefix}-2024-03-06",
        queued.id: f"{prefix}-queue-2024-03-05",
    }
    stored = search.get(index=f"{prefix}-2024-03-05", id=history[0].id)["_source"]
    assert stored == history[0].body
    props = search.indices.get_mapping(index=f"{prefix}-2024-03-05")[f"{prefix}-2024-03-05"]["mappings"]["properties"]
    assert props["RequestCpus"]["type"] == "long"
    assert props["CpuEff"]["type"] == "double"
    assert props["QDate"] == {"type": "date", "format": "epoch_second"}
    assert props["HasSingularity"]["type"] == "boolean"
    assert props["Site"]["type"] == "keyword"
    assert props["CMSSW_Version"]["type"] == "keyword"  # not in the registry: the dynamic keyword template
    assert props["Args"] == {"type": "text", "index": False}
    assert props["metadata"]["properties"]["spider_runtime"] == {"type": "date", "format": "epoch_millis"}


def test_a_rejected_document_goes_to_the_dead_letter_topic_and_the_rest_of_the_batch_lands(
    kind, kafka, prefix, tmp_path
):
    write_es_conf(tmp_path, kind, "local", PORTS[kind])
    config = sink_config(kafka, tmp_path, prefix, batch_size=50, linger_s=1.0)
    docs = [job_doc(n) for n in range(20)]
    docs[7] = job_doc(7, RequestCpus="four")  # a string in a long field: the cluster refuses it
    publish(kafka, docs)
    search = search_client(kind)

    with running(config, kind, "local"):
        wait_for(lambda: count(search, prefix) == 19, 60, "19 documents")
        letters = read_dead_letters(kafka, expected=1)

    [letter] = letters
    assert letter.origin.key == docs[7].id.encode()
    assert letter.origin.topic == kafka.topic(topics.DOCS_HISTORY)
    assert "RequestCpus" in letter.reason and "HTTP 400" in letter.reason
    assert letter.details == {"target": f"{SHORT[kind]}-local", "class": "rejected"}
    assert not search.exists(index=f"{prefix}-2024-03-05", id=docs[7].id)


def test_an_undecodable_message_is_dead_lettered_and_does_not_block_the_partition(kind, kafka, prefix, tmp_path):
    write_es_conf(tmp_path, kind, "local", PORTS[kind])
    config = sink_config(kafka, tmp_path, prefix)
    producer = Producer(kafka.client_config())
    producer.produce(kafka.topic(topics.DOCS_HISTORY), b"not json", b"bad#1", partition=0)
    producer.flush(10)
    publish(kafka, [job_doc(n) for n in range(5)])
    search = search_client(kind)

    with running(config, kind, "local"):
        wait_for(lambda: count(search, prefix) == 5, 60, "5 documents")
        [letter] = read_dead_letters(kafka, expected=1)

    assert letter.origin.value == b"not json"
    assert letter.reason.startswith("undecodable document message")


def test_a_value_that_is_not_a_json_object_is_rejected_by_the_cluster_and_the_rest_of_the_batch_lands(
    kind, kafka, prefix, tmp_path
):
    """The search sinks forward values unparsed: the cluster's per-item rejection dead-letters a broken one,
    even one with a line break (which must not make the cluster refuse the whole bulk request)."""
    write_es_conf(tmp_path, kind, "local", PORTS[kind])
    config = sink_config(kafka, tmp_path, prefix, batch_size=50, linger_s=1.0)
    docs = [job_doc(n) for n in range(20)]
    broken = {docs[3].id: b"not\njson", docs[7].id: b"[1, 2]", docs[11].id: b'{"RequestCpus": 4'}
    producer = Producer(kafka.client_config())
    for doc in docs:
        key, value, headers = document_message.encode(doc, git_hash="0123456789ab")
        producer.produce(kafka.topic(topics.DOCS_HISTORY), broken.get(doc.id, value), key, headers=headers)
    assert producer.flush(30) == 0
    search = search_client(kind)

    with running(config, kind, "local"):
        wait_for(lambda: count(search, prefix) == 17, 60, "17 documents")
        letters = read_dead_letters(kafka, expected=3)

    assert {letter.origin.key.decode(): letter.origin.value for letter in letters} == broken
    for letter in letters:
        assert letter.reason.startswith("HTTP 400 ")
        assert letter.details == {"target": f"{SHORT[kind]}-local", "class": "rejected"}


def test_the_sink_pauses_while_the_cluster_is_unreachable_and_ends_with_every_document(kind, kafka, prefix, tmp_path):
    proxy = TcpProxy(PORTS[kind])
    proxy.open()
    write_es_conf(tmp_path, kind, "local", proxy.port)
    config = sink_config(kafka, tmp_path, prefix, batch_size=100)
    search = search_client(kind)
    try:
        with running(config, kind, "local") as runner:
            publish(kafka, [job_doc(n) for n in range(500)])
            wait_for(lambda: count(search, prefix) == 500, 60, "the first 500 documents")
            proxy.close()
            publish(kafka, [job_doc(n) for n in range(500, 1500)])
            wait_for(lambda: runner.ready() is not True, 30, "the sink to notice the outage")
            time.sleep(8)  # several retries with backoff while the cluster stays unreachable
            assert count(search, prefix) == 500
            proxy.open()
            wait_for(lambda: runner.ready() is True, 30, "the sink to resume")
            wait_for(lambda: count(search, prefix) == 1500, 60, "every document")
    finally:
        proxy.close()


def read_dead_letters(kafka, expected: int, timeout: float = 30) -> list[dead_letter.DeadLetter]:
    consumer = Consumer(
        {**kafka.client_config(), "group.id": f"t-{uuid.uuid4().hex[:8]}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([kafka.topic(topics.DLQ_SINKS)])
    letters = []
    deadline = time.monotonic() + timeout
    while len(letters) < expected and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            letters.append(dead_letter.decode(msg.value()))
    consumer.close()
    assert len(letters) == expected, f"{len(letters)} dead letters, expected {expected}"
    return letters


def sigkill_run(kind, kafka, prefix, tmp_path, total: int, kills: int) -> None:
    """Run `spider sink` as a subprocess and SIGKILL it `kills` times mid-stream, then let a last instance
    finish: the index holds exactly `total` documents. The documents are published in `kills + 1` slices, the
    next slice before each instance starts, so no instance can run out of work before it is killed, however
    fast the machine."""
    write_es_conf(tmp_path, kind, "local", PORTS[kind])
    group_prefix = f"t-{uuid.uuid4().hex[:8]}-sink"
    env = {
        **os.environ,
        "SPIDER_WORKDIR": str(tmp_path),
        "SPIDER_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
        "SPIDER_CONSUMER_GROUP_PREFIX": group_prefix,
        "SPIDER_INDEX_TEMPLATE": prefix,
        "SPIDER_NUMBER_OF_REPLICAS": "0",
        "SPIDER_BATCH_SIZE": "200",  # small, sequential bulks: slow enough to be killed mid-stream
        "SPIDER_MAX_IN_FLIGHT": "1",
        "SPIDER_LOG_LEVEL": "WARNING",
    }
    search = search_client(kind)
    docs = [job_doc(n, day=n % 3) for n in range(total)]
    slices = [docs[i :: kills + 1] for i in range(kills + 1)]
    command = [sys.executable, "-c", "from services.cli import main; main()", "sink", SHORT[kind], "--cluster", "local"]
    landed = []
    step = len(slices[0]) // 4
    for run in range(kills):
        publish(kafka, slices[run])
        before = count(search, prefix)
        log = (tmp_path / f"sink-{run}.log").open("wb")
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
        try:
            # kill mid-stream, once this instance added some documents beyond its predecessors
            wait_for(lambda b=before: count(search, prefix) >= b + step, 180, f"{before + step} documents", 0.1)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        landed.append(count(search, prefix))
    assert landed[-1] < total, f"every document landed before the last kill ({landed})"
    publish(kafka, slices[-1])
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: count(search, prefix) >= total, 600, f"{total} documents", interval=1)
        time.sleep(3)  # anything still in flight would show up now as an extra document
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    assert count(search, prefix) == total
    ids = {hit["_id"] for hit in search.search(index=f"{prefix}-*", size=100, q="GlobalJobId:*")["hits"]["hits"]}
    assert ids <= {d.id for d in docs}


def test_sigkill_mid_stream_loses_and_duplicates_nothing(kind, kafka, prefix, tmp_path):
    sigkill_run(kind, kafka, prefix, tmp_path, total=10_000, kills=3)


@pytest.mark.slow
def test_five_sigkills_during_fifty_thousand_documents(kind, kafka, prefix, tmp_path):
    sigkill_run(kind, kafka, prefix, tmp_path, total=50_000, kills=5)
