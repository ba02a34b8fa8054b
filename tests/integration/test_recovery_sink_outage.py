"""Runbook "target cluster down", end to end: Kafka -> ES sink runner -> the stack's Elasticsearch.

Queue snapshots taken while the sink is stopped wait in Kafka (visible as lag in `spider status`) and reach
Elasticsearch once it runs again; a cluster that comes back empty is refilled by replaying the sink's group.
"""

from __future__ import annotations

import pytest

from services.common import topics
from services.common.groups import GroupNames
from services.recovery import replay, status
from services.recovery.kafka_view import KafkaView

from .kafka_helpers import sink_topics
from .search_sink_support import (
    PORTS,
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


@pytest.fixture
def kafka():
    with sink_topics(partitions=2) as private:
        yield private


def snapshot(n: int, day: int = 0):
    return job_doc(n, source="condor_queue", day=day, JobStatus=2, Status="Running")


def sink_lag(kafka, config, group: str) -> int:
    names = GroupNames(kafka, sink_prefix=config.consumer_group_prefix)
    return status.group_status(KafkaView(kafka), names, group).lag


def test_queue_snapshots_taken_while_the_sink_is_stopped_reach_elasticsearch(kafka, prefix, tmp_path):
    write_es_conf(tmp_path, "elasticsearch", "local", PORTS["elasticsearch"])
    config = sink_config(kafka, tmp_path, prefix)
    search = search_client("elasticsearch")
    publish(kafka, [snapshot(1)], topic=topics.DOCS_QUEUE)
    with running(config, "elasticsearch", "local") as runner:
        wait_for(lambda: count(search, prefix) == 1, 60, "the first snapshot")
        group = runner.group_id

    publish(kafka, [snapshot(n, day=n % 2) for n in range(2, 6)], topic=topics.DOCS_QUEUE)  # sink is down
    assert sink_lag(kafka, config, group) == 4
    assert count(search, prefix) == 1

    with running(config, "elasticsearch", "local"):
        wait_for(lambda: count(search, prefix) == 5, 60, "the snapshots taken during the outage")
        wait_for(lambda: sink_lag(kafka, config, group) == 0, 30, "the sink to commit")


def test_a_cluster_back_empty_is_refilled_by_replaying_the_sink_group(kafka, prefix, tmp_path):
    write_es_conf(tmp_path, "elasticsearch", "local", PORTS["elasticsearch"])
    config = sink_config(kafka, tmp_path, prefix)
    search = search_client("elasticsearch")
    docs = [job_doc(n, day=n % 3) for n in range(1, 7)]
    publish(kafka, docs)
    with running(config, "elasticsearch", "local") as runner:
        wait_for(lambda: count(search, prefix) == 6, 60, "all documents")
        group = runner.group_id
    search.indices.delete(index=f"{prefix}-*")  # the cluster lost its data

    view = KafkaView(kafka)
    names = GroupNames(kafka, sink_prefix=config.consumer_group_prefix)
    moves = replay.plan(view, names, group, replay.Target("earliest"))
    replay.apply(view, group, moves)

    assert sum(-m.delta for m in moves if m.delta) == 6
    with running(config, "elasticsearch", "local"):
        wait_for(lambda: count(search, prefix) == 6, 60, "the replayed documents")
    ids = {hit["_id"] for hit in search.search(index=f"{prefix}-*", body={"size": 20})["hits"]["hits"]}
    assert ids == {d.id for d in docs}
