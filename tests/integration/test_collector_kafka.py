"""The collector against the real Kafka of the local stack, driven by the file-backed pool.

Checkpoints move only after Kafka acknowledged every ad; a collector killed mid-run or cut off from Kafka
loses no job (duplicates allowed, same key); topics and checkpoints are managed from the CLI.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from services.collector.checkpoints import CheckpointStore
from services.collector.config import CollectorConfig
from services.collector.discovery import discover
from services.collector.poller import HISTORY, QUEUE, Poller
from services.collector.pool import FilePool
from services.common import dead_letter, raw_message, topics
from services.common.config import MIB, KafkaSettings, MessageSizeLimits, kafka_size
from services.common.kafka import Publisher
from services.common.topic_admin import create_topics

from .kafka_helpers import delete_topics, private_kafka

pytestmark = [
    pytest.mark.integration,
]

DATA = Path(__file__).parents[1] / "data" / "collector_pool"
T0 = 1_732_460_000  # the fixed clock the ads of tests/data/collector_pool are written around
POOLS = {"Global": ["cmsgwms-collector-global.cern.ch:9620"], "Volunteer": ["vocms0840.cern.ch:9618"]}


def wait_for_leaders(kafka: KafkaSettings) -> None:
    """New topics answer "not leader" for a moment; wait until every partition has a leader."""
    admin = AdminClient(kafka.client_config())
    names = {kafka.topic(spec.name) for spec in topics.TOPICS}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        metadata = admin.list_topics(timeout=10).topics
        if all(
            name in metadata
            and metadata[name].partitions
            and all(p.leader >= 0 for p in metadata[name].partitions.values())
            for name in names
        ):
            return
        time.sleep(0.2)
    raise AssertionError("topics without leader after 30 s")


@pytest.fixture
def kafka() -> Iterator[KafkaSettings]:
    settings = private_kafka()
    create_topics(settings, partitions=2)
    wait_for_leaders(settings)
    yield settings
    delete_topics(settings, [settings.topic(spec.name) for spec in topics.TOPICS])


@pytest.fixture
def pool_dir(tmp_path: Path) -> Path:
    root = tmp_path / "pool"
    shutil.copytree(DATA, root)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "collectors.json").write_text(json.dumps(POOLS))
    return root


def read_topic(kafka: KafkaSettings, name: str) -> list[tuple[bytes | None, bytes]]:
    """Every message of a topic, all partitions, from the start."""
    consumer = Consumer(kafka.client_config() | {"group.id": f"reader-{os.getpid()}-{time.time_ns()}"})
    topic = kafka.topic(name)
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ends = {}
    for p in partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        if high > low:
            ends[p] = high
    consumer.assign([TopicPartition(topic, p, 0) for p in ends])
    messages = []
    deadline = time.monotonic() + 30
    while ends and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error() is not None or msg.partition() not in ends:
            continue
        messages.append((msg.key(), msg.value()))
        if msg.offset() + 1 >= ends[msg.partition()]:
            del ends[msg.partition()]
    consumer.close()
    return messages


def job_ids(kafka: KafkaSettings, name: str) -> list[str]:
    return [raw_message.decode(value).global_job_id for _, value in read_topic(kafka, name)]


def make_poller(kafka: KafkaSettings, pool_dir: Path, publisher_kafka: KafkaSettings | None = None, **cfg):
    config = CollectorConfig(kafka=kafka, delivery_timeout_ms=3000, **cfg)
    publisher = Publisher(publisher_kafka or kafka, delivery_timeout_ms=config.delivery_timeout_ms, linger_ms=5)
    poller = Poller(config, FilePool(pool_dir), publisher, CheckpointStore(kafka), clock=lambda: float(T0))
    return poller, publisher


def run(poller: Poller, source: str) -> dict:
    schedds = discover(poller.pool, POOLS, poller.config.schedd_include)
    return {r.schedd: r for r in poller.run_cycle(source, schedds, deadline=time.monotonic() + 60)}


def test_topics_create_makes_every_topic_once_and_is_idempotent():
    kafka = private_kafka()
    first = create_topics(kafka, partitions=3)
    again = create_topics(kafka)
    delete_topics(kafka, [kafka.topic(spec.name) for spec in topics.TOPICS])
    assert sorted(o.name for o in first) == sorted(kafka.topic(spec.name) for spec in topics.TOPICS)
    assert all(o.created for o in first)
    assert {o.detail for o in again} == {"already exists"}


def test_topics_create_raises_the_message_size_limit_of_existing_topics_and_says_so():
    kafka = private_kafka()
    create_topics(kafka)
    larger = kafka.model_copy(update={"message_size": MessageSizeLimits(raw_mb=24)})

    outcomes = {o.name: o.detail for o in create_topics(larger)}
    delete_topics(kafka, [kafka.topic(spec.name) for spec in topics.TOPICS])

    change = f"already exists, max.message.bytes {kafka_size(12 * MIB)} -> {kafka_size(24 * MIB)}"
    assert outcomes[kafka.topic(topics.RAW_QUEUE)] == outcomes[kafka.topic(topics.RAW_HISTORY)] == change
    assert outcomes[kafka.topic(topics.DOCS_HISTORY)] == "already exists"


def test_history_poll_publishes_the_window_and_then_advances_the_checkpoint(kafka, pool_dir):
    poller, publisher = make_poller(kafka, pool_dir)
    results = run(poller, HISTORY)
    publisher.close()
    assert all(r.ok for r in results.values())
    ids = job_ids(kafka, topics.RAW_HISTORY)
    # default look-back 12 h + 12 min: the ads of 11 h, 3 h, 25 min and 5 min ago of each of the 3 schedds
    assert len(ids) == 12 and len(set(ids)) == 12
    assert CheckpointStore(kafka).load() == {
        "vocms0250.cern.ch": T0 - 300,
        "vocms0267.cern.ch": T0 - 300,
        "crab3@vocms0155.cern.ch": T0 - 300,
    }


def test_messages_are_keyed_by_global_job_id_and_carry_pool_and_schedd(kafka, pool_dir):
    poller, publisher = make_poller(kafka, pool_dir, schedd_include=["vocms0267.cern.ch"])
    run(poller, HISTORY)
    publisher.close()
    for key, value in read_topic(kafka, topics.RAW_HISTORY):
        message = raw_message.decode(value)
        assert key == message.global_job_id.encode()
        assert (message.source, message.pool, message.schedd) == ("condor_history", "Volunteer", "vocms0267.cern.ch")


def test_next_poll_reads_from_the_checkpoint_with_one_period_of_overlap(kafka, pool_dir):
    poller, publisher = make_poller(kafka, pool_dir, schedd_include=["vocms0250.cern.ch"])
    run(poller, HISTORY)
    run(poller, HISTORY)
    publisher.close()
    ids = job_ids(kafka, topics.RAW_HISTORY)
    # second poll: from checkpoint T0-300 minus 720 s: only the ad of 5 min ago comes again
    twice = [job for job in set(ids) if ids.count(job) == 2]
    assert len(ids) == 4 + 1
    assert twice == ["vocms0250.cern.ch#900.5#1732373600"]


def test_large_backlog_is_read_in_full_through_small_pages(kafka, pool_dir):
    poller, publisher = make_poller(kafka, pool_dir, history_page_size=1, schedd_include=["vocms0250.cern.ch"])
    CheckpointStore(kafka).save({"vocms0250.cern.ch": T0 - 3 * 86400})
    run(poller, HISTORY)
    publisher.close()
    assert len(set(job_ids(kafka, topics.RAW_HISTORY))) == 5  # 2 days, 11 h, 3 h, 25 min, 5 min ago


def test_queue_poll_publishes_one_snapshot_per_schedd(kafka, pool_dir):
    poller, publisher = make_poller(kafka, pool_dir)
    results = run(poller, QUEUE)
    publisher.close()
    assert {r.schedd: r.ads for r in results.values()} == {
        "vocms0250.cern.ch": 4,
        "vocms0267.cern.ch": 4,
        "crab3@vocms0155.cern.ch": 4,
    }
    messages = [raw_message.decode(v) for _, v in read_topic(kafka, topics.RAW_QUEUE)]
    snapshots = {}
    for m in messages:
        snapshots.setdefault(m.schedd, set()).add((m.snapshot_id, m.snapshot_time))
    assert all(len(s) == 1 for s in snapshots.values())
    assert {t for s in snapshots.values() for _, t in s} == {float(T0)}


def test_kafka_outage_leaves_checkpoints_unchanged_and_the_next_run_catches_up(kafka, pool_dir):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{sock.getsockname()[1]}"})
    CheckpointStore(kafka).save({"vocms0250.cern.ch": T0 - 4 * 3600})
    poller, publisher = make_poller(kafka, pool_dir, publisher_kafka=dead, schedd_include=["vocms0250.cern.ch"])
    [result] = run(poller, HISTORY).values()
    publisher.close(timeout=1)
    assert (result.ok, result.reason) == (False, "delivery")
    assert CheckpointStore(kafka).load() == {"vocms0250.cern.ch": T0 - 4 * 3600}

    poller, publisher = make_poller(kafka, pool_dir, schedd_include=["vocms0250.cern.ch"])
    [result] = run(poller, HISTORY).values()
    publisher.close()
    assert result.ok
    assert len(job_ids(kafka, topics.RAW_HISTORY)) == 3  # 3 h, 25 min, 5 min ago
    assert CheckpointStore(kafka).load() == {"vocms0250.cern.ch": T0 - 300}


def test_an_ad_too_large_for_the_raw_topics_is_dead_lettered_and_the_checkpoint_moves(kafka, pool_dir):
    schedd = "vocms0250.cern.ch"
    huge = history_ad(schedd, 7, T0 - 200).replace("Payload = ", f'Environment = "{"PATH=/bin " * 4000}"\nPayload = ')
    with (pool_dir / "schedds" / schedd / "history.ads").open("a") as history:
        history.write(huge)
    small_raw = kafka.model_copy(update={"message_size": MessageSizeLimits(raw_mb=0.03)})  # 31 KB: the ad is ~42 KB
    poller, publisher = make_poller(small_raw, pool_dir, schedd_include=[schedd])

    [result] = run(poller, HISTORY).values()
    publisher.close()

    assert result.ok
    assert CheckpointStore(kafka).load() == {schedd: T0 - 200}
    assert f"{schedd}#5000.7#{T0 - 200 - 90000}" not in job_ids(kafka, topics.RAW_HISTORY)
    [(_, value)] = read_topic(kafka, topics.DLQ_CONVERTER)
    letter = dead_letter.decode(value)
    assert (letter.stage, letter.details["schedd"]) == ("collector", schedd)
    assert re.fullmatch(r"raw ad of 4\d\.\d KiB exceeds the 30\.7 KiB limit of t-\w+\.raw\.history", letter.reason)
    assert raw_message.decode(letter.origin.value).global_job_id == f"{schedd}#5000.7#{T0 - 200 - 90000}"


def history_ad(schedd: str, proc: int, finished: int) -> str:
    return (
        f'*** ProcId = {proc} ClusterId = 5000 Owner = "cmsunified" CompletionDate = {finished}\n'
        f'GlobalJobId = "{schedd}#5000.{proc}#{finished - 90000}"\nClusterId = 5000\nProcId = {proc}\n'
        f'JobUniverse = 5\nJobStatus = 4\nCMS_Type = "production"\nQDate = {finished - 90000}\n'
        f"EnteredCurrentStatus = {finished}\nCompletionDate = {finished}\nRequestCpus = 8\n"
        f'MATCH_EXP_JOBGLIDEIN_CMSSite = "T2_CH_CERN"\nPayload = "{"x" * 2000}"\n'
    )


def spider(
    kafka: KafkaSettings, workdir: Path, *args: str, env_extra: dict[str, str] | None = None, **popen
) -> subprocess.Popen:
    env = (
        (env_extra or {})
        | os.environ
        | {
            "SPIDER_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "SPIDER_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
            "SPIDER_WORKDIR": str(workdir),
            "SPIDER_LOG_FORMAT": "json",
        }
    )
    return subprocess.Popen([sys.executable, "-c", "from services.cli import main; main()", *args], env=env, **popen)


def test_collector_killed_mid_run_then_restarted_loses_no_job(kafka, pool_dir):
    now = int(time.time())
    schedd = "vocms0250.cern.ch"
    backlog = 6000
    with (pool_dir / "schedds" / schedd / "history.ads").open("a") as history:
        for proc in range(backlog):
            history.write(history_ad(schedd, proc, now - 3600 + proc // 10))
    args = ("collector", "--once", "--source", "history", "--schedd-filter", schedd, "--pool-dir", str(pool_dir))
    first = spider(kafka, pool_dir.parent, *args, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not read_topic(kafka, topics.RAW_HISTORY):
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    published_before_restart = len(job_ids(kafka, topics.RAW_HISTORY))
    assert published_before_restart > 0

    second = spider(kafka, pool_dir.parent, *args, stderr=subprocess.PIPE)
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err.decode()[-2000:]
    ids = job_ids(kafka, topics.RAW_HISTORY)
    wanted = {f"{schedd}#5000.{proc}#{now - 3600 + proc // 10 - 90000}" for proc in range(backlog)}
    assert wanted <= set(ids)
    assert CheckpointStore(kafka).load()[schedd] == now - 3600 + (backlog - 1) // 10


def test_checkpoint_import_export_and_set_through_the_cli(kafka, tmp_path):
    reference = {"vocms0250.cern.ch": 1732459400, "crab3@vocms0155.cern.ch": 1732455812.5}
    (tmp_path / "checkpoint.json").write_text(json.dumps(reference))
    imported = spider(kafka, tmp_path, "checkpoint", "import", "--merge", "--yes", str(tmp_path / "checkpoint.json"))
    assert imported.wait(60) == 0
    moved = spider(kafka, tmp_path, "checkpoint", "set", "vocms0250.cern.ch", "1732460000")
    assert moved.wait(60) == 0
    exported = spider(kafka, tmp_path, "checkpoint", "export", stdout=subprocess.PIPE)
    out, _ = exported.communicate(timeout=60)
    assert json.loads(out) == {"crab3@vocms0155.cern.ch": 1732455812.5, "vocms0250.cern.ch": 1732460000}


def checkpoint_cli(kafka: KafkaSettings, workdir: Path, *args: str) -> tuple[int, str]:
    run = spider(kafka, workdir, "checkpoint", *args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = run.communicate(timeout=60)
    return run.returncode, out.decode()


def test_checkpoint_show_says_there_are_none_yet(kafka, tmp_path):
    status, out = checkpoint_cli(kafka, tmp_path, "show")

    assert status == 0
    assert "\nno checkpoints yet" in "\n" + out


def test_checkpoint_import_replace_restores_a_backup_exactly_after_showing_the_changes(kafka, tmp_path):
    CheckpointStore(kafka).save({"vocms0250.cern.ch": T0, "vocms0267.cern.ch": T0, "crab3@vocms0155.cern.ch": T0})
    backup = tmp_path / "checkpoint.json"
    backup.write_text(json.dumps({"vocms0250.cern.ch": T0, "vocms0267.cern.ch": T0 - 3600}))

    status, dry_run = checkpoint_cli(kafka, tmp_path, "import", "--replace", str(backup))
    assert status == 0
    assert "change  vocms0267.cern.ch" in dry_run and "remove  crab3@vocms0155.cern.ch" in dry_run
    assert "dry run: 0 added, 1 changed, 1 removed, 1 unchanged" in dry_run
    assert len(CheckpointStore(kafka).load()) == 3

    status, applied = checkpoint_cli(kafka, tmp_path, "import", "--replace", "--yes", str(backup))
    assert status == 0, applied
    assert CheckpointStore(kafka).load() == {"vocms0250.cern.ch": T0, "vocms0267.cern.ch": T0 - 3600}


def test_checkpoint_import_needs_merge_or_replace(kafka, tmp_path):
    (tmp_path / "checkpoint.json").write_text(json.dumps({"vocms0250.cern.ch": T0}))

    status, out = checkpoint_cli(kafka, tmp_path, "import", str(tmp_path / "checkpoint.json"))

    assert status == 2
    assert "--merge" in out and "--replace" in out
    assert CheckpointStore(kafka).load() == {}


def test_from_file_publishes_good_ads_and_dead_letters_the_malformed_one_with_its_line(kafka, tmp_path):
    history = (DATA / "schedds" / "vocms0267.cern.ch" / "history.ads").read_text()
    broken = history.replace("JobStatus = 4", "JobStatus = = 4", 1)  # the first ad, which starts at line 2
    path = tmp_path / "history.txt"
    path.write_text(broken)
    run = spider(
        kafka,
        tmp_path,
        "collector",
        "--from-file",
        str(path),
        "--pool",
        "Volunteer",
        "--schedd",
        "vocms0267.cern.ch",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = run.communicate(timeout=120)
    assert run.returncode == 4, err.decode()[-2000:]
    assert json.loads(out) == {"published": 5, "skipped": 1, "failed": 0, "first_error": None}
    assert "history.txt line 2: ad skipped" in err.decode()
    published = [raw_message.decode(v) for _, v in read_topic(kafka, topics.RAW_HISTORY)]
    assert {(m.source, m.pool, m.schedd) for m in published} == {("condor_history", "Volunteer", "vocms0267.cern.ch")}
    [(_, letter)] = read_topic(kafka, topics.DLQ_CONVERTER)
    record = dead_letter.decode(letter)
    assert record.details == {"file": str(path), "line": 2}
    assert b"JobStatus = = 4" in record.origin.value


def test_long_running_collector_polls_on_its_intervals_exposes_metrics_and_stops_on_sigterm(kafka, pool_dir):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"SPIDER_QUEUE_INTERVAL_S": "1", "SPIDER_HISTORY_INTERVAL_S": "3600", "SPIDER_METRICS_PORT": str(port)}
    service = spider(
        kafka, pool_dir.parent, "collector", "--pool-dir", str(pool_dir), stderr=subprocess.PIPE, env_extra=env
    )
    snapshots: set[str | None] = set()
    metrics = ""
    history_polled = 'spider_collector_checkpoint_age_seconds{schedd="vocms0250.cern.ch"}'
    deadline = time.monotonic() + 60
    # two queue snapshots of each of the 3 schedds, and the first history poll (it waits for Kafka's coordinator)
    while (len(snapshots) < 2 * 3 or history_polled not in metrics) and time.monotonic() < deadline:
        time.sleep(0.5)
        snapshots = {raw_message.decode(v).snapshot_id for _, v in read_topic(kafka, topics.RAW_QUEUE)}
        with contextlib.suppress(urllib.error.URLError):  # not serving yet
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    service.send_signal(signal.SIGTERM)
    _, err = service.communicate(timeout=60)
    assert len(snapshots) >= 6
    assert 'spider_collector_ads_published_total{kind="queue",schedd="vocms0250.cern.ch"}' in metrics
    assert history_polled in metrics
    assert service.returncode == 0, err.decode()[-2000:]


def test_from_file_with_a_rate_spreads_the_ads_over_time(kafka, tmp_path):
    from bench.e2e.observe import topic_times

    path = DATA / "schedds" / "vocms0267.cern.ch" / "history.ads"  # 6 ads
    run = spider(kafka, tmp_path, "collector", "--from-file", str(path), "--rate", "5", stderr=subprocess.PIPE)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 0, err.decode()[-2000:]
    times = topic_times(kafka, [topics.RAW_HISTORY])
    assert times.count == 6
    assert times.last - times.first >= 0.9  # 6 ads at 5/s: the last one 1 s after the first
