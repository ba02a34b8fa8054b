"""`spider status` and `spider replay` against the real Kafka of the local stack.

Each test has its own topic prefix and group ids; the CLI is run as operators run it, configured by env.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from services.common.errors import ExitStatus
from services.common.groups import GroupNames
from services.recovery.kafka_view import KafkaView
from services.recovery.timepoints import from_ms, iso

from .kafka_helpers import (
    consume_and_commit,
    create_topics,
    delete_topics,
    joined_consumer,
    private_kafka,
    produce,
)

pytestmark = [
    pytest.mark.integration,
]

HOUR_MS = 3600 * 1000
T0 = int(time.time() * 1000) - 10 * HOUR_MS  # messages are stamped 10 h ago + i minutes


@pytest.fixture
def kafka():
    settings = private_kafka()
    yield settings
    delete_topics(settings, [settings.topic(n) for n in ("raw.queue", "raw.history")])


@pytest.fixture
def names(kafka):
    tag = kafka.topic_prefix.rstrip(".")
    return GroupNames(kafka, converter=f"{tag}-converter", sink_prefix=f"{tag}-sink")


@pytest.fixture
def raw_topics(kafka):
    return create_topics(kafka, ["raw.queue", "raw.history"], partitions=2)


def spider(names: GroupNames, *args: str) -> subprocess.CompletedProcess:
    """Run the CLI as an operator would, configured by a TOML file naming this test's topics and groups."""
    config = Path(tempfile.mkdtemp()) / "spider.toml"
    config.write_text(
        f'[kafka]\nbootstrap_servers = "{names.kafka.bootstrap_servers}"\ntopic_prefix = "{names.kafka.topic_prefix}"\n'
        f'[converter]\ngroup_id = "{names.converter}"\n[sinks]\nconsumer_group_prefix = "{names.sink_prefix}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPIDER_")}
    return subprocess.run(
        ["spider", *args, "--config", str(config)], capture_output=True, text=True, env=env, timeout=120
    )


def minutes(*values: int) -> list[int]:
    return [T0 + m * 60_000 for m in values]


def test_status_shows_committed_end_lag_and_oldest_unconsumed_time(names, raw_topics):
    queue, history = raw_topics
    produce(names.kafka, queue, 0, minutes(*range(10)))
    produce(names.kafka, queue, 1, minutes(*range(6)))
    produce(names.kafka, history, 0, minutes(0, 1, 2))
    consume_and_commit(names.kafka, names.converter, queue, 0, 4)
    consume_and_commit(names.kafka, names.converter, history, 0, 3)

    result = spider(names, "status", "--json")

    assert result.returncode == 0, result.stderr
    groups = json.loads(result.stdout)["groups"]
    assert [g["group"] for g in groups] == [names.converter]
    rows = {(p["topic"], p["partition"]): p for p in groups[0]["partitions"]}
    assert rows[(queue, 0)] | {"oldest_unconsumed": None} == {
        "topic": queue,
        "partition": 0,
        "committed": 4,
        "end": 10,
        "lag": 6,
        "lost": 0,
        "oldest_unconsumed": None,
    }
    assert rows[(queue, 0)]["oldest_unconsumed"] == iso(from_ms(minutes(4)[0]))  # to the millisecond
    assert (rows[(queue, 1)]["committed"], rows[(queue, 1)]["lag"]) == (None, 6)
    assert (rows[(history, 0)]["lag"], rows[(history, 0)]["oldest_unconsumed"]) == (0, None)
    assert (rows[(history, 1)]["end"], rows[(history, 1)]["lag"]) == (0, 0)
    assert groups[0]["lag"] == 12
    assert groups[0]["members"] == []


def test_status_table_names_the_group_and_its_lag(names, raw_topics):
    produce(names.kafka, raw_topics[0], 0, minutes(0, 1, 2))
    consume_and_commit(names.kafka, names.sink("es-cms"), raw_topics[0], 0, 1)

    result = spider(names, "status")

    assert result.returncode == 0, result.stderr
    assert f"{names.sink('es-cms')} (sink)" in result.stdout
    assert "lag 2" in result.stdout


def test_replay_refuses_a_group_with_an_active_member(names, raw_topics):
    produce(names.kafka, raw_topics[0], 0, minutes(0, 1, 2, 3))
    consume_and_commit(names.kafka, names.converter, raw_topics[0], 0, 4)
    consumer = joined_consumer(names.kafka, names.converter, raw_topics)
    try:
        result = spider(names, "replay", names.converter, "--to-earliest", "--yes")
    finally:
        consumer.close()

    assert result.returncode == ExitStatus.REFUSED == 5
    assert f"consumer group {names.converter} has 1 active member(s)" in result.stderr
    assert "scale the deployment to 0" in result.stderr
    assert KafkaView(names.kafka).committed(names.converter) == {(raw_topics[0], 0): 4}


def test_dry_run_shows_the_moves_and_changes_nothing(names, raw_topics):
    produce(names.kafka, raw_topics[0], 0, minutes(*range(8)))
    consume_and_commit(names.kafka, names.converter, raw_topics[0], 0, 8)

    result = spider(names, "replay", names.converter, "--to-earliest", "--topic", "raw.queue")

    assert result.returncode == 0, result.stderr
    assert "-8 (re-reads 8)" in result.stdout
    assert "Dry run: nothing changed (8 message(s) would be re-read)" in result.stdout
    assert KafkaView(names.kafka).committed(names.converter) == {(raw_topics[0], 0): 8}


def test_replay_to_a_time_before_retention_moves_to_the_earliest_offset_and_says_so(names, raw_topics):
    queue = raw_topics[0]
    produce(names.kafka, queue, 0, minutes(*range(10)))
    consume_and_commit(names.kafka, names.converter, queue, 0, 10)
    admin = AdminClient(names.kafka.client_config())
    for future in admin.delete_records([TopicPartition(queue, 0, 4)]).values():
        future.result(timeout=30)  # what retention does to old segments

    before = str((T0 - HOUR_MS) // 1000)
    result = spider(names, "replay", names.converter, "--to-time", before, "--topic", "raw.queue", "--yes")

    assert result.returncode == 0, result.stderr
    assert f"{queue}:0:" in result.stdout
    assert "is before the oldest message kept" in result.stdout
    assert "resolved to the earliest offset 4; offsets below 4 were removed by retention" in result.stdout
    committed = KafkaView(names.kafka).committed(names.converter)
    assert committed[(queue, 0)] == 4
    assert committed[(queue, 1)] == 0


def test_replay_to_a_time_moves_exactly_to_offsets_for_times(names, raw_topics):
    queue, history = raw_topics
    produce(names.kafka, queue, 0, minutes(0, 10, 20, 30, 40))
    produce(names.kafka, queue, 1, minutes(5, 15, 25))
    produce(names.kafka, history, 0, minutes(1, 2))
    for topic, partition, count in ((queue, 0, 5), (queue, 1, 3), (history, 0, 2)):
        consume_and_commit(names.kafka, names.converter, topic, partition, count)
    when_ms = minutes(12)[0]
    probe = Consumer({**names.kafka.client_config(), "group.id": f"probe-{uuid.uuid4().hex[:8]}"})
    asked = [TopicPartition(t, p, when_ms) for t in (queue, history) for p in (0, 1)]
    expected = {(tp.topic, tp.partition): tp.offset for tp in probe.offsets_for_times(asked, timeout=30)}
    probe.close()
    ends = {(queue, 0): 5, (queue, 1): 3, (history, 0): 2, (history, 1): 0}
    expected = {tp: ends[tp] if offset < 0 else offset for tp, offset in expected.items()}

    result = spider(names, "replay", names.converter, "--to-time", f"{when_ms / 1000:.3f}", "--yes")

    assert result.returncode == 0, result.stderr
    assert expected == {(queue, 0): 2, (queue, 1): 1, (history, 0): 2, (history, 1): 0}
    del expected[(history, 1)]  # never committed and its topic not named: left to the group's reset policy
    assert KafkaView(names.kafka).committed(names.converter) == expected
    assert result.stdout.count("no message at or after") == 1  # raw.history[0] has nothing after the time
    assert f"{history}:1: never committed: left alone" in result.stdout
    assert "Applied" in result.stdout


def test_replay_to_explicit_offsets_past_the_end_resolves_to_the_end(names, raw_topics):
    queue = raw_topics[0]
    produce(names.kafka, queue, 1, minutes(0, 1, 2))

    result = spider(names, "replay", names.sink("amq"), "--to-offsets", f"{queue}:1:1,{queue}:0:99", "--yes")

    assert result.returncode == 0, result.stderr
    assert "offset 99 is past the end: resolved to the end 0" in result.stdout
    assert KafkaView(names.kafka).committed(names.sink("amq")) == {(queue, 0): 0, (queue, 1): 1}
