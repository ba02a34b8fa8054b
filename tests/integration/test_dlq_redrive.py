"""`spider dlq` against the real Kafka, Elasticsearch, OpenSearch and ActiveMQ of the local stack.

Dead letters are made the way production makes them: a wrong index template refuses documents in a search
cluster while ActiveMQ accepts them all; the converter's own step dead-letters broken raw ads. The operator
commands run as subprocesses, configured by a TOML file naming this test's topics, groups and indices.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from bench.ads import raw_messages, realistic_ads
from services.common import dead_letter, topics
from services.common.config import KafkaSettings, load_settings
from services.common.dead_letter import Origin, service_identity
from services.converter.pipeline import Contexts, DeadLettered, step
from services.recovery.kafka_view import KafkaView
from services.sinks import amq, metrics
from services.sinks.config import SinkConfig

from .activemq import Subscriber
from .kafka_helpers import STACK, create_topics, delete_topics, private_kafka, produce
from .search_sink_support import (
    FACTORIES,
    SHORT,
    cleanup,
    count,
    job_doc,
    local_cluster,
    publish,
    running,
    running_target,
    search_client,
    wait_for,
    write_workdir,
)

pytestmark = pytest.mark.integration

SITES = ["T2_CH_CERN", "T1_US_FNAL", "T2_DE_DESY", "T2_IT_Pisa", "T3_US_FNALLPC", "T2_UK_London_IC"]
BROKEN_DAY = "2024-03-06"  # the index the wrong template applies to


@pytest.fixture
def kafka():
    settings = private_kafka()
    names = [topics.RAW_QUEUE, topics.RAW_HISTORY, topics.DOCS_QUEUE, topics.DOCS_HISTORY]
    created = create_topics(settings, [*names, topics.DLQ_CONVERTER, topics.DLQ_SINKS], partitions=2)
    yield settings
    delete_topics(settings, created)


def spider_output(workdir: Path, *args: str) -> str:
    """Run `spider` as an operator would, with this test's config; its standard output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPIDER_")} | {"SPIDER_WORKDIR": str(workdir)}
    command = [sys.executable, "-c", "from services.cli import main; main()", *args]
    result = subprocess.run(
        [*command, "--config", str(workdir / "spider.toml")], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def spider(workdir: Path, *args: str) -> dict:
    return json.loads(spider_output(workdir, *args))


def caught_up(kafka: KafkaSettings, group: str) -> bool:
    """The group committed every message of the document topics."""
    view = KafkaView(kafka)
    tps = view.partitions([kafka.topic(topics.DOCS_QUEUE), kafka.topic(topics.DOCS_HISTORY)])
    committed = view.committed(group)
    return all(committed.get(tp, 0) == end for tp, (_low, end) in view.watermarks(tps).items())


def documents() -> tuple[list, list]:
    """History documents over three days with varied sites, CPU counts and efficiencies (a few idle-looking ones
    without a site), and queue snapshots of running jobs; every document of BROKEN_DAY has a Site."""
    history = []
    for n in range(60):
        fields = {"Site": SITES[n % len(SITES)], "RequestCpus": 1 + n % 8, "CpuEff": round(12.5 + n * 1.37, 2)}
        if n % 3 != 1 and n % 7 == 0:
            del fields["Site"]
        doc = job_doc(n, day=n % 3, **fields)
        if "Site" not in fields:
            del doc.body["Site"]
        history.append(doc)
    queue = [
        job_doc(100 + n, source="condor_queue", day=n % 2, JobStatus=2, Status="Running", Site=SITES[-1 - n])
        for n in range(6)
    ]
    return history, queue


@pytest.fixture(params=["elasticsearch", "opensearch"])
def kind(request):
    return request.param


def test_documents_a_wrong_template_refused_are_re_driven_once_into_that_cluster_only(kind, kafka, unique, tmp_path):
    prefix = f"t-{unique}-dlq"
    destination = f"/queue/t-{unique}.cms.jobmon.condor"
    write_workdir(
        tmp_path,
        kafka,
        prefix,
        [local_cluster("local", kind)],
        sections=f'[sinks.amq]\nhosts = ["127.0.0.1:{STACK.port("stomp")}"]\ntopic = "{destination}"\n',
    )
    config = load_settings(SinkConfig, tmp_path / "spider.toml", workdir=tmp_path)
    search_target = f"{SHORT[kind]}-local"
    history, queue = documents()
    docs = history + queue
    refused = {d.id for d in docs if d.index_date == BROKEN_DAY}
    assert len(refused) == 23 and len(docs) == 66
    [installer] = FACTORIES[kind](config, "local")
    installer.client.put_index_template(
        f"{prefix}-wrong",  # someone's template: higher priority than spider's, Site (a keyword) as a number
        {
            "index_patterns": [f"{prefix}-{BROKEN_DAY}"],
            "priority": config.template_priority + 50,
            "template": {
                "settings": {"number_of_shards": 1, "number_of_replicas": 0},
                "mappings": {"properties": {"Site": {"type": "long"}}},
            },
        },
    )
    search = search_client(kind)
    subscriber = Subscriber(STACK.port("stomp"), destination)
    [monit] = amq.targets(config)
    skipped = metrics.DOCUMENTS.labels(kafka.topic(topics.DOCS_HISTORY), "amq", "skipped")
    skipped_before = skipped._value.get()
    try:
        with running(config, kind, "local"), running_target(config, monit):
            publish(kafka, history)
            publish(kafka, queue, topic=topics.DOCS_QUEUE)
            wait_for(lambda: len(subscriber.ids()) == len(docs), 60, "every document in ActiveMQ")
            status = wait_for(
                lambda: [d for d in spider(tmp_path, "status", "--json")["dead_letters"] if d["total"] == 23],
                60,
                "23 dead letters",
                interval=1,
            )
            assert count(search, prefix) == len(docs) - len(refused)

            counted = spider(tmp_path, "dlq", "count", "--json")["topics"]
            shown = spider(tmp_path, "dlq", "show", "--target", search_target)
            planned = spider(tmp_path, "dlq", "redrive", "--json")

            search.indices.delete_index_template(name=f"{prefix}-wrong")  # the fix: the wrong template goes,
            assert search.count(index=f"{prefix}-{BROKEN_DAY}")["count"] == 0  # and the index it made, empty
            search.indices.delete(index=f"{prefix}-{BROKEN_DAY}")
            sent = spider(tmp_path, "dlq", "redrive", "--yes", "--json")
            wait_for(lambda: count(search, prefix) == len(docs), 60, "every document indexed")
            again = spider(tmp_path, "dlq", "redrive", "--yes", "--json")
            forced = spider(tmp_path, "dlq", "redrive", "--again", "--yes", "--target", search_target, "--json")
            for group in (f"{config.consumer_group_prefix}-{search_target}", f"{config.consumer_group_prefix}-amq"):
                wait_for(lambda g=group: caught_up(kafka, g), 60, f"{group} to read the re-driven documents")
            after = spider(tmp_path, "dlq", "count", "--json")["topics"]
        final_ids = [h["_id"] for h in search.search(index=f"{prefix}-*", size=200)["hits"]["hits"]]
        final_count = count(search, prefix)
        monit_ids = [body["metadata"]["_id"] for _, body in subscriber.messages]
    finally:
        subscriber.close()
        installer.close()
        cleanup(search, prefix)
        if search.indices.exists_index_template(name=f"{prefix}-wrong"):
            search.indices.delete_index_template(name=f"{prefix}-wrong")

    [sinks_status] = status
    assert (sinks_status["topic"], sinks_status["new"]) == (kafka.topic(topics.DLQ_SINKS), 23)
    sinks = counted[kafka.topic(topics.DLQ_SINKS)]
    assert sinks["total"] == 23 and counted[kafka.topic(topics.DLQ_CONVERTER)]["total"] == 0
    expected_class = "document_parsing_exception" if kind == "elasticsearch" else "mapper_parsing_exception"
    assert [(g["stage"], g["reason_class"], g["count"]) for g in sinks["groups"]] == [
        (f"sink-{search_target}", expected_class, 23)
    ]
    assert "Site" in sinks["groups"][0]["sample"]
    assert shown["original"]["headers"]["index_date"] == BROKEN_DAY
    assert shown["original"]["value"]["GlobalJobId"] in {d.body["GlobalJobId"] for d in docs}

    assert planned["sent"] is None
    assert sorted((r["topic"], r["targets"], r["messages"]) for r in planned["sends"]) == [
        (kafka.topic(topics.DOCS_HISTORY), search_target, 20),
        (kafka.topic(topics.DOCS_QUEUE), search_target, 3),
    ]
    assert sent["sent"] == 23
    assert (again["sent"], len(again["already_redriven"])) == (0, 23)
    assert forced["sent"] == 23

    assert final_count == len(docs)  # each document once, after three re-drive commands
    assert sorted(final_ids) == sorted(d.id for d in docs)
    assert sorted(monit_ids) == sorted(d.id for d in docs)  # ActiveMQ had them all and skipped every re-drive
    assert skipped._value.get() - skipped_before == 40  # the 20 history documents, re-driven twice
    assert after[kafka.topic(topics.DLQ_SINKS)]["total"] == 23  # no document refused again


def test_converter_dead_letters_go_back_to_the_raw_topic_and_partition_they_came_from_once(kafka, unique, tmp_path):
    write_workdir(tmp_path, kafka, f"t-{unique}", [])
    ads = realistic_ads(6, seed=13, kind="history")
    ads[2]["JobStatus"] = "4"  # a submit tool that wrote the status as text
    ads[2]["Environment"] = "HOME=/home/cmsuser AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENG CMS_TOKEN=eyJhbGciOi"
    messages = raw_messages(ads)
    messages[0] = (messages[0][0], messages[0][1][:180])  # cut short: not JSON
    messages[4] = (messages[4][0], messages[4][1].replace(b'"spider.raw_ad/1"', b'"spider.raw_ad/9"'))
    raw_topic = kafka.topic(topics.RAW_HISTORY)
    producer = Producer(kafka.client_config())
    placed: list[tuple[int, int]] = []
    for n, (key, value) in enumerate(messages):
        producer.produce(
            raw_topic, value, key, partition=n % 2, on_delivery=lambda _e, m: placed.append((m.partition(), m.offset()))
        )
        producer.flush(30)
    context = Contexts(False, lambda: None)()
    for (key, value), (partition, offset) in zip(messages, placed, strict=True):
        outcome = step(value, context, Origin(raw_topic, partition, offset, key), service_identity("converter"))
        if isinstance(outcome, DeadLettered):
            producer.produce(kafka.topic(topics.DLQ_CONVERTER), outcome.value, outcome.key)
    assert producer.flush(30) == 0
    view = KafkaView(kafka)
    ends = {tp: end for tp, (_low, end) in view.watermarks(view.partitions([raw_topic])).items()}

    counted = spider(tmp_path, "dlq", "count", "--topic", "converter", "--json")["topics"]
    shown = spider_output(tmp_path, "dlq", "show", "--class", "conversion_error")
    sent = spider(tmp_path, "dlq", "redrive", "--topic", "converter", "--yes", "--json")
    again = spider(tmp_path, "dlq", "redrive", "--topic", "converter", "--yes", "--json")
    redriven = list(view.read({tp: (end, end + 10) for tp, end in ends.items()}))

    groups = counted[kafka.topic(topics.DLQ_CONVERTER)]["groups"]
    assert sorted((g["reason_class"], g["count"]) for g in groups) == [
        ("conversion_error", 1),
        ("malformed_envelope", 2),
    ]
    assert "JobStatus" in shown and "AWS_SECRET_ACCESS_KEY=***" in shown
    assert "wJalrXUtnFEMIK7MDENG" not in shown and "eyJhbGciOi" not in shown
    assert sent["sent"] == 3
    assert sent["sends"] == [{"topic": raw_topic, "targets": "all sinks (converted again)", "messages": 3}]
    assert (again["sent"], len(again["already_redriven"])) == (0, 3)
    broken = {(n % 2, messages[n][0], messages[n][1]) for n in (0, 2, 4)}
    assert {(m.partition(), m.key(), m.value()) for m in redriven} == broken
    for msg in redriven:
        headers = dict(msg.headers())
        assert set(headers) == {"redrive_of"}  # no target named: every sink takes what the converter makes
        assert headers["redrive_of"].decode().startswith(kafka.topic(topics.DLQ_CONVERTER))


def test_status_counts_the_dead_letters_each_topic_keeps_and_those_new_since_a_time(kafka, unique, tmp_path):
    write_workdir(tmp_path, kafka, f"t-{unique}", [])
    hour_ms = 3_600_000
    now_ms = int(time.time() * 1000)
    produce(kafka, kafka.topic(topics.DLQ_SINKS), 0, [now_ms - h * hour_ms for h in (30, 20, 3, 1)])
    produce(kafka, kafka.topic(topics.DLQ_SINKS), 1, [now_ms - 2 * hour_ms])
    produce(kafka, kafka.topic(topics.DLQ_CONVERTER), 1, [now_ms - 40 * hour_ms])
    since = str((now_ms - 5 * hour_ms) // 1000)

    default = spider(tmp_path, "status", "--json")["dead_letters"]
    narrowed = spider(tmp_path, "status", "--json", "--dead-letters-since", since)["dead_letters"]
    table = spider_output(tmp_path, "status", "--dead-letters-since", since)

    assert [(d["topic"], d["total"], d["new"]) for d in default] == [
        (kafka.topic(topics.DLQ_CONVERTER), 1, 0),
        (kafka.topic(topics.DLQ_SINKS), 5, 4),
    ]
    assert [(d["total"], d["new"]) for d in narrowed] == [(1, 0), (5, 3)]
    [row] = [line for line in table.splitlines() if kafka.topic(topics.DLQ_SINKS) in line]
    assert [cell.strip() for cell in row.split("│")[1:-1]] == [kafka.topic(topics.DLQ_SINKS), "5", "3"]


def test_a_cut_dead_letter_is_re_driven_with_the_whole_original_read_back_from_its_topic(kafka, unique, tmp_path):
    write_workdir(tmp_path, kafka, f"t-{unique}", [])
    [(key, value)] = raw_messages(realistic_ads(1, seed=29, kind="history"))
    raw_topic = kafka.topic(topics.RAW_HISTORY)
    producer = Producer(kafka.client_config())
    placed: list[tuple[int, int]] = []
    producer.produce(raw_topic, value, key, partition=1, on_delivery=lambda _e, m: placed.append((1, m.offset())))
    producer.flush(30)
    [(partition, offset)] = placed
    cut = {"original_cut": {"value_bytes": len(value), "kept_bytes": 300}}
    origin = Origin(raw_topic, partition, offset, key, value[:300])
    letter = dead_letter.record("converter", "message too large", origin, service_identity("converter"), details=cut)
    producer.produce(kafka.topic(topics.DLQ_CONVERTER), dead_letter.encode(letter)[1], key)
    assert producer.flush(30) == 0

    sent = spider(tmp_path, "dlq", "redrive", "--topic", "converter", "--yes", "--json")
    [redriven] = KafkaView(kafka).read({(raw_topic, 1): (offset + 1, offset + 2)})

    assert sent["sent"] == 1 and sent["unusable"] == {}
    assert (redriven.key(), redriven.value()) == (key, value)
