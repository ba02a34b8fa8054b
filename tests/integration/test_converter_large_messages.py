"""`spider converter` with raw ads of 10 MB against the real Kafka: each gives a document or a dead letter that
says why, the ads after it are converted, nothing is lost, and SIGTERM ends the worker within 30 s, also while
such an ad is in flight."""

from __future__ import annotations

import base64
import random
import re
import uuid

import classad2
import orjson
import pytest

from bench.ads import raw_messages, realistic_ads
from services.common import dead_letter, topics
from services.common.config import MIB, KafkaSettings
from services.common.kafka import Delivery, Publisher
from services.common.topic_admin import create_topics

from .kafka_helpers import BOOTSTRAP
from .test_converter_service import Worker, committed_lag, consume, expected_ids, wait_for

pytestmark = pytest.mark.integration

TEN_MB = 10_000_000
TOO_LARGE = re.compile(r"document of (\d+\.\d) MiB exceeds the 8\.0 MiB limit of t-\w+\.docs\.history")


@pytest.fixture
def kafka() -> KafkaSettings:
    """Private topics made as `spider topics create` makes them, with the default size limits."""
    settings = KafkaSettings(bootstrap_servers=BOOTSTRAP, topic_prefix=f"t-{uuid.uuid4().hex[:8]}.")
    create_topics(settings)
    return settings


def compressible(ad: classad2.ClassAd, seed: int) -> classad2.ClassAd:
    """~10 MB of custom attributes a submit tool could set: long lists of similar file names (zstd: ~1%)."""
    rng = random.Random(seed)
    for i in range(TEN_MB // 8_000):
        files = ",".join(f"/store/user/cmsuser/ttbar/{rng.randrange(100)}/out_{n:05d}.root" for n in range(250))
        ad[f"CMS_OutputFiles_{i}"] = files[:8_000]
    return ad


def incompressible(ad: classad2.ClassAd, seed: int) -> classad2.ClassAd:
    """~10 MB of attributes holding random tokens (base64 of random bytes: zstd cannot shrink them)."""
    rng = random.Random(seed)
    for i in range(TEN_MB // 8_000):
        ad[f"CMS_Token_{i}"] = base64.b64encode(rng.randbytes(6_000)).decode()
    return ad


def huge_environment(ad: classad2.ClassAd, seed: int) -> classad2.ClassAd:
    """One 10 MB Environment string, as a job that exports a huge variable has."""
    rng = random.Random(seed)
    ad["Environment"] = " ".join(f"VAR_{i}={rng.randrange(10**9)}" for i in range(TEN_MB // 16))[:TEN_MB]
    return ad


def publish(kafka: KafkaSettings, messages: list[tuple[bytes | None, bytes]]) -> None:
    """Through the collector's producer, with the size limits the collector has."""
    publisher = Publisher(kafka)
    delivery = Delivery()
    for key, value in messages:
        publisher.produce(kafka.topic(topics.RAW_HISTORY), key, value, delivery)
    assert delivery.wait(60) and delivery.ok, delivery.first_error
    publisher.close(10)


def with_large_ads(kind, seed: int, large: int = 1) -> tuple[list, list]:
    """Ordinary history ads with `large` ads of `kind` among them: (all messages, the large ones)."""
    ads = realistic_ads(60, seed=seed, kind="history")
    for ad in ads:
        ad["TaskType"] = "Processing"  # every ad gives an output: nothing is dropped on purpose here
    for n in range(large):
        ads[10 + n * 20] = kind(ads[10 + n * 20], seed + n)
    messages = raw_messages(ads)
    big = [messages[10 + n * 20] for n in range(large)]
    assert all(len(value) > TEN_MB for _key, value in big)
    return messages, big


def outputs(kafka: KafkaSettings, messages, big) -> tuple[dict, dict]:
    """Documents and dead letters, by key, once each input message has one of them."""
    want = len(expected_ids([m for m in messages if m not in big])) + len(big)
    docs, letters = {}, {}

    def complete() -> bool:
        docs.update((m.key(), m) for m in consume(kafka, topics.DOCS_HISTORY, 0, timeout=1))
        letters.update((m.key(), m) for m in consume(kafka, topics.DLQ_CONVERTER, 0, timeout=1))
        return len(docs) + len(letters) >= want

    assert wait_for(complete, 90), f"{len(docs)} documents and {len(letters)} dead letters of {want} inputs"
    return docs, letters


@pytest.mark.parametrize("kind", [compressible, incompressible], ids=["compressible", "incompressible"])
def test_ten_megabyte_ad_whose_document_is_too_large_becomes_a_dead_letter_that_says_why(kafka, kind):
    messages, [(big_key, big_value)] = with_large_ads(kind, seed=31)
    publish(kafka, messages)
    group = f"conv-{uuid.uuid4().hex[:8]}"
    worker = Worker(kafka, group)
    try:
        docs, letters = outputs(kafka, messages, [(big_key, big_value)])
        assert wait_for(lambda: committed_lag(kafka, group, topics.RAW_HISTORY) == 0), "offsets not committed"
    finally:
        log = worker.stop()

    assert set(docs) == expected_ids([m for m in messages if m[0] != big_key]), "every other ad is converted"
    assert set(letters) == {big_key}
    letter = dead_letter.decode(letters[big_key].value())
    size = float(TOO_LARGE.fullmatch(letter.reason).group(1))
    assert 8.0 < size < 12.0
    assert letter.origin.value == big_value, "the dead letter holds the whole raw message, to re-drive"
    assert len(letters[big_key].value()) <= kafka.message_size.limit(topics.DLQ_CONVERTER)
    assert letter.reason in log
    assert worker.proc.returncode == 0 and worker.stop_seconds < 30


def test_ten_megabyte_environment_gives_a_document_within_the_limit(kafka):
    messages, big = with_large_ads(huge_environment, seed=32)
    publish(kafka, messages)
    worker = Worker(kafka, f"conv-{uuid.uuid4().hex[:8]}")
    try:
        docs, letters = outputs(kafka, messages, [])
    finally:
        worker.stop()

    [big_id] = expected_ids(big)
    assert set(docs) == expected_ids(messages)
    assert letters == {}
    assert len(docs[big_id].value()) < kafka.message_size.limit(topics.DOCS_HISTORY)
    environment = orjson.loads(docs[big_id].value()).get("Environment", "")
    assert len(environment) < MIB, "the text is left out or cut, never sent whole"


def test_sigterm_while_ten_megabyte_ads_are_in_flight_ends_the_worker_within_30_s_and_loses_nothing(kafka):
    messages, big = with_large_ads(incompressible, seed=33, large=3)
    warm_up, rest = messages[:1], messages[1:]
    publish(kafka, warm_up)
    group = f"conv-{uuid.uuid4().hex[:8]}"
    first = Worker(kafka, group)
    assert wait_for(lambda: consume(kafka, topics.DOCS_HISTORY, 1, timeout=1), 60), "the worker never started"
    publish(kafka, rest)  # 30 MB of raw ads reach a running worker: the stop comes while it converts them
    first.stop()
    assert first.proc.returncode == 0
    assert first.stop_seconds < 30

    second = Worker(kafka, group)
    try:
        docs, letters = outputs(kafka, messages, big)
        assert wait_for(lambda: committed_lag(kafka, group, topics.RAW_HISTORY) == 0), "offsets not committed"
    finally:
        second.stop()
    assert set(docs) == expected_ids([m for m in messages if m not in big])
    assert set(letters) == {key for key, _value in big}
