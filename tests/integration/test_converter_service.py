"""`spider converter` against the real Kafka of the local stack, run as a worker subprocess.

Each test has its own topic prefix and consumer group, so runs never collide.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from bench.ads import raw_messages, realistic_ads
from services.common import dead_letter, topics
from services.common.config import KafkaSettings
from services.common.dead_letter import Origin
from services.common.topic_admin import create_topics
from services.converter.pipeline import Contexts, Converted, step

from .kafka_helpers import BOOTSTRAP

pytestmark = pytest.mark.integration


@pytest.fixture
def kafka() -> KafkaSettings:
    settings = KafkaSettings(bootstrap_servers=BOOTSTRAP, topic_prefix=f"t-{uuid.uuid4().hex[:8]}.")
    create_topics(settings)
    return settings


class Worker:
    """A `spider converter` process; `settings` are extra SPIDER_* settings (e.g. summary_interval_s="1")."""

    def __init__(self, kafka: KafkaSettings, group: str, **settings: str) -> None:
        env = {
            **os.environ,
            "SPIDER_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "SPIDER_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
            "SPIDER_GROUP_ID": group,
            "SPIDER_COMMIT_INTERVAL_S": "0.5",
            "SPIDER_LOG_FORMAT": "json",
            **{f"SPIDER_{name.upper()}": value for name, value in settings.items()},
        }
        # a file, not a pipe: a pipe nobody reads would block the worker's logging; closed by stop()
        self.output = tempfile.TemporaryFile()  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from services.cli import main; main()", "converter"],
            env=env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )
        self.stop_seconds: float | None = None

    def stop(self, sig: int = signal.SIGTERM) -> str:
        """Send `sig`, wait for the end (killing it after 60 s) and return everything it wrote."""
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stop_seconds = time.monotonic() - started
        self.output.seek(0)
        written = self.output.read().decode(errors="replace")
        self.output.close()
        return written


def produce(kafka: KafkaSettings, topic: str, messages: list[tuple[bytes | None, bytes | None]]) -> None:
    producer = Producer(kafka.client_config())
    errors = []

    def delivered(err, _msg):
        if err is not None:
            errors.append(err)

    for key, value in messages:
        producer.produce(kafka.topic(topic), key=key, value=value, on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(30) == 0
    assert not errors


def consume(kafka: KafkaSettings, topic: str, count: int, timeout: float = 90) -> list:
    """Every message of a topic from the beginning, waiting until at least `count` arrived."""
    consumer = Consumer(
        {**kafka.client_config(), "group.id": f"reader-{uuid.uuid4().hex[:8]}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([kafka.topic(topic)])
    got, deadline = [], time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            got.append(msg)
    end = time.monotonic() + 2
    while time.monotonic() < end:
        msg = consumer.poll(0.2)
        if msg is not None and msg.error() is None:
            got.append(msg)
    consumer.close()
    return got


def committed_lag(kafka: KafkaSettings, group: str, topic: str) -> int:
    """Messages of `topic` not yet covered by the group's committed offsets."""
    consumer = Consumer({**kafka.client_config(), "group.id": group})
    meta = consumer.list_topics(kafka.topic(topic), timeout=10).topics[kafka.topic(topic)]
    parts = [TopicPartition(kafka.topic(topic), p) for p in meta.partitions]
    lag = 0
    for tp in consumer.committed(parts, timeout=10):
        _, high = consumer.get_watermark_offsets(tp, timeout=10)
        lag += high - max(tp.offset, 0)
    consumer.close()
    return lag


def wait_for(predicate, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def expected_ids(messages: list[tuple[bytes | None, bytes]]) -> set[bytes]:
    """Document ids the conversion gives for these messages (ROOT tasks dropped, bad ones dead-lettered)."""
    context = Contexts(True, lambda: None)()
    outcomes = (step(value, context, Origin(), {}) for _, value in messages)
    return {o.key for o in outcomes if isinstance(o, Converted)}


def test_raw_messages_become_documents_and_bad_ones_dead_letters(kafka):
    good = raw_messages(realistic_ads(200, seed=11, kind="history"))
    bad = [(b"job-1", b"not json at all"), (b"job-2", b'{"schema": "spider.raw_ad/99", "ad": {}}'), (b"job-3", None)]
    produce(kafka, topics.RAW_HISTORY, good[:100] + bad + good[100:])
    group = f"conv-{uuid.uuid4().hex[:8]}"
    worker = Worker(kafka, group)
    try:
        ids = expected_ids(good)
        docs = consume(kafka, topics.DOCS_HISTORY, len(ids))
        letters = consume(kafka, topics.DLQ_CONVERTER, 3)
        assert wait_for(lambda: committed_lag(kafka, group, topics.RAW_HISTORY) == 0), "offsets not committed"
    finally:
        log = worker.stop()

    assert {m.key() for m in docs} == ids
    assert all(dict(m.headers())["schema"] == b"spider.document/1" for m in docs)
    records = {m.key(): dead_letter.decode(m.value()) for m in letters}
    assert set(records) == {b"job-1", b"job-2", b"job-3"}
    assert records[b"job-1"].origin.value == b"not json at all"
    assert records[b"job-1"].error_type == "MalformedMessage"
    assert "unsupported schema" in records[b"job-2"].reason
    assert records[b"job-2"].origin.topic == kafka.topic(topics.RAW_HISTORY)
    assert records[b"job-3"].origin.value is None
    assert "dead-letter" in log


def test_queue_ads_go_to_the_queue_document_topic(kafka):
    messages = raw_messages(realistic_ads(50, seed=12, kind="queue"), source="condor_queue")
    produce(kafka, topics.RAW_QUEUE, messages)
    worker = Worker(kafka, f"conv-{uuid.uuid4().hex[:8]}")
    try:
        ids = expected_ids(messages)
        docs = consume(kafka, topics.DOCS_QUEUE, len(ids))
    finally:
        worker.stop()
    assert {m.key() for m in docs} == ids


def test_killed_and_restarted_worker_loses_nothing(kafka):
    messages = raw_messages(realistic_ads(3000, seed=13, kind="history"))
    produce(kafka, topics.RAW_HISTORY, messages)
    ids = expected_ids(messages)
    group = f"conv-{uuid.uuid4().hex[:8]}"

    first = Worker(kafka, group)
    assert wait_for(lambda: len(consume(kafka, topics.DOCS_HISTORY, 500, timeout=5)) >= 500, 90)
    first.stop(signal.SIGKILL)
    second = Worker(kafka, group)
    try:
        # every document is written once the whole input is committed; read only then, because the killed
        # worker's duplicates make `len(ids)` messages arrive before the last ids do
        assert wait_for(lambda: committed_lag(kafka, group, topics.RAW_HISTORY) == 0, 120)
        docs = consume(kafka, topics.DOCS_HISTORY, len(ids), timeout=120)
    finally:
        second.stop()

    keys = Counter(m.key() for m in docs)
    assert set(keys) == ids
    duplicates = sum(n - 1 for n in keys.values())
    assert duplicates < len(ids), "only the uncommitted tail of the killed worker may be converted twice"

    more = raw_messages(realistic_ads(100, seed=14, kind="history"))
    produce(kafka, topics.RAW_HISTORY, more)
    third = Worker(kafka, group)
    try:
        after = consume(kafka, topics.DOCS_HISTORY, len(docs) + len(expected_ids(more)), timeout=90)
    finally:
        third.stop()
    assert len(after) == len(docs) + len(expected_ids(more)), "a cleanly stopped worker resumes where it committed"


def test_log_is_json_lines_without_terminal_escapes_and_summarises_what_became_of_the_ads(kafka):
    ads = realistic_ads(120, seed=15, kind="history")
    for ad in ads[::30]:
        ad["TaskType"] = "ROOT"  # DAG roots: dropped on purpose
    messages = raw_messages(ads)
    produce(kafka, topics.RAW_HISTORY, messages)
    worker = Worker(kafka, f"conv-{uuid.uuid4().hex[:8]}", summary_interval_s="1")
    try:
        consume(kafka, topics.DOCS_HISTORY, len(expected_ids(messages)))
        time.sleep(2)  # a summary after the last batch
    finally:
        output = worker.stop()

    assert "\x1b" not in output, "a terminal escape sequence in the log"
    # a dev checkout whose compiled modules were edited warns before logging is set up (services/compilation.py)
    lines = [line for line in output.splitlines() if "StaleCompiledModule" not in line and "STATUS = " not in line]
    records = [orjson.loads(line) for line in lines]
    summaries = [r for r in records if r["msg"].startswith("last 1 s:")]
    assert sum(r["converted"] for r in summaries) == len(expected_ids(messages))
    roots = sum(ad.get("TaskType") == "ROOT" for ad in ads)
    assert roots >= 4
    assert sum(r["dropped"].get("root_task", 0) for r in summaries) == roots
