"""Every document is searchable whatever its unregistered attributes hold: the index template and the sinks'
fallback (fields moved under spider_unindexed) against the real Elasticsearch and OpenSearch of the local stack
(docs/indexing.md)."""

from __future__ import annotations

import json
import random
import threading
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

import schemas
from bench.ads import raw_messages, realistic_ads
from services.common import topics
from services.common.dead_letter import Origin
from services.common.document_message import DocMessage, encode
from services.converter.convert import ConversionContext
from services.converter.pipeline import Converted, step
from services.sinks import metrics
from services.sinks.bulk import BulkTarget

from .kafka_helpers import private_kafka, sink_topics
from .search_sink_support import (
    FACTORIES,
    SHORT,
    Doc,
    count,
    job_doc,
    local_cluster,
    publish,
    running,
    search_client,
    sink_config,
    wait_for,
)
from .varied_docs import ODD_NAMES, varied_docs

pytestmark = [pytest.mark.integration]

KINDS = ("elasticsearch", "opensearch")


@pytest.fixture
def kafka():
    with sink_topics(partitions=3) as private:
        yield private


@pytest.fixture
def workdir(tmp_path):
    """es_conf.json naming the stack's two search servers, as clusters `es` and `os`."""
    (tmp_path / "etc").mkdir()
    clusters = [local_cluster("es", "elasticsearch"), local_cluster("os", "opensearch")]
    (tmp_path / "etc" / "es_conf.json").write_text(json.dumps(clusters))
    return tmp_path


CLUSTER = {"elasticsearch": "es", "opensearch": "os"}


def target_name(kind: str) -> str:
    return f"{SHORT[kind]}-{CLUSTER[kind]}"


def dead_letters(kafka) -> int:
    """Records in the sinks' dead-letter topic."""
    consumer = Consumer({**kafka.client_config(), "group.id": f"t-{uuid.uuid4().hex[:8]}"})
    topic = kafka.topic(topics.DLQ_SINKS)
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    total = sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions)
    consumer.close()
    return total


def moved_documents(kind: str) -> float:
    """Re-sends with fields moved, by the target of `kind`, so far in this process (every reason)."""
    return sum(
        sample.value
        for family in metrics.FIELDS_MOVED_DOCUMENTS.collect()
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels["target"] == target_name(kind)
    )


def sources(search, prefix: str, docs: list[Doc], *, source: bool = True) -> dict[str, dict | None]:
    """The stored _source of those of `docs` the index holds, by id (None for each with `source=False`)."""
    found = {}
    for day in sorted({doc.index_date for doc in docs}):
        ids = [doc.id for doc in docs if doc.index_date == day]
        for start in range(0, len(ids), 5000):
            chunk = {"ids": ids[start : start + 5000]}
            for hit in search.mget(index=f"{prefix}-{day}", body=chunk, _source=source)["docs"]:
                if hit.get("found"):
                    found[hit["_id"]] = hit.get("_source")
    return found


def restored(source: dict, original: dict) -> dict:
    """The document as published, from its stored source: fields the sink moved under spider_unindexed put back."""
    kept = dict(source.get(schemas.UNINDEXED_FIELD, {}))
    body = {key: value for key, value in source.items() if key != schemas.UNINDEXED_FIELD}
    ours = original.get(schemas.UNINDEXED_FIELD)
    if ours is not None:
        body[schemas.UNINDEXED_FIELD] = {name: kept.pop(name) for name in ours}
    body.update(kept)
    return body


def test_twenty_thousand_documents_whose_attributes_change_type_land_once_in_both_engines(kafka, prefix, workdir):
    docs = varied_docs(20_000)
    publish(kafka, docs)
    config = sink_config(kafka, workdir, prefix, number_of_shards=1)
    clients = {kind: search_client(kind) for kind in KINDS}
    moved_before = {kind: moved_documents(kind) for kind in KINDS}

    with running(config, "elasticsearch", "es"), running(config, "opensearch", "os"):
        wait_for(lambda: all(count(clients[k], prefix) >= len(docs) for k in KINDS), 150, "every document", 2)

    assert dead_letters(kafka) == 0
    sample = random.Random(1).sample(docs, 300)
    for kind, search in clients.items():
        assert count(search, prefix) == len(docs)
        assert len(sources(search, prefix, docs, source=False)) == len(docs)  # each id, in its daily index
        stored = sources(search, prefix, sample)
        assert {doc.id: restored(stored[doc.id], doc.body) for doc in sample} == {doc.id: doc.body for doc in sample}
        assert moved_documents(kind) > moved_before[kind]  # objects met scalars: the fallback did its part


def converted_ads(n: int) -> list[Converted]:
    """What the converter publishes (pipeline.step, as its worker runs it) for `n` production-shaped ads that no
    one here wrote by hand: bench/ads.py gives every job its own attribute list, users' +Attrs whose JSON type
    changes between jobs, objects and lists, and a few names no index can hold."""
    context = ConversionContext(
        affiliations=None, git_hash="0123456789ab", hostname="test", username="test", converter_version="test"
    )
    outcomes = [step(value, context, Origin(), {}) for _key, value in raw_messages(realistic_ads(n, seed=13))]
    return [outcome for outcome in outcomes if isinstance(outcome, Converted)]


def test_twenty_thousand_converted_production_shaped_ads_land_once_in_both_engines(kafka, prefix, workdir):
    messages = converted_ads(20_000)
    ids = {m.key.decode() for m in messages}
    assert len(ids) == len(messages) > 19_000  # the ads the converter drops on purpose (DAG roots) aside
    producer = Producer(kafka.client_config())
    for m in messages:
        producer.produce(kafka.topic(topics.DOCS_HISTORY), m.value, m.key, headers=m.headers)
        producer.poll(0)
    assert producer.flush(60) == 0
    config = sink_config(kafka, workdir, prefix)
    clients = {kind: search_client(kind) for kind in KINDS}

    with running(config, "elasticsearch", "es"), running(config, "opensearch", "os"):
        wait_for(lambda: all(count(clients[k], prefix) >= len(ids) for k in KINDS), 300, "every document", 2)

    assert dead_letters(kafka) == 0
    sample = random.Random(2).sample(messages, 200)
    for kind, search in clients.items():
        assert count(search, prefix) == len(ids), f"{kind}: every id exactly once"
        found = search.search(
            index=f"{prefix}-*", body={"query": {"ids": {"values": [m.key.decode() for m in sample]}}, "size": 200}
        )
        stored = {hit["_id"]: hit["_source"] for hit in found["hits"]["hits"]}
        published = {m.key.decode(): json.loads(m.value) for m in sample}
        assert {i: restored(stored[i], body) for i, body in published.items()} == published, f"{kind}: every value kept"


@pytest.mark.parametrize("kind", KINDS)
def test_a_day_with_more_than_two_thousand_attribute_names_keeps_every_document(kind, kafka, prefix, workdir):
    rng = random.Random(7)
    docs = []
    for n in range(300):  # 300 x 10 names never seen before: 3,000 names in one daily index
        fresh = {f"Custom_{n}_{i}_{rng.choice(('Tag', 'Count', 'Flag'))}": rng.randrange(10**6) for i in range(10)}
        docs.append(job_doc(n, **fresh))
    publish(kafka, docs)
    config = sink_config(kafka, workdir, prefix, number_of_shards=1, batch_size=50)
    search = search_client(kind)

    with running(config, kind, CLUSTER[kind]):
        wait_for(lambda: count(search, prefix) >= len(docs), 120, "every document", 1)

    assert count(search, prefix) == len(docs)
    assert dead_letters(kafka) == 0
    stored = sources(search, prefix, docs)
    assert {doc.id: restored(stored[doc.id], doc.body) for doc in docs} == {doc.id: doc.body for doc in docs}
    kept = sum(len(source.get(schemas.UNINDEXED_FIELD, {})) for source in stored.values())
    assert kept >= 3000 - 2000  # the names the full index could not take, kept in the source


@pytest.mark.parametrize("kind", KINDS)
def test_two_bulks_racing_on_new_fields_with_different_json_types_are_both_accepted(kind, prefix, workdir):
    """Both writers of a sink send at once; each new field arrives as a long in one request and as text, a
    bool, a double or an object in the other."""
    config = sink_config(private_kafka(), workdir, prefix, number_of_shards=1)
    [first] = FACTORIES[kind](config, CLUSTER[kind])
    [second] = FACTORIES[kind](config, CLUSTER[kind])
    first.initialize()
    others = ["T2_CH_CERN", True, 2.5, {"Site": "T1_US_FNAL"}, [1, "two"]]
    rounds = 12
    barrier = threading.Barrier(2)
    results: dict[str, list] = {"first": [], "second": []}

    def send(target: BulkTarget, key: str, make) -> None:
        for r in range(rounds):
            batch = [message(job_doc(r * 100 + i + (50 if key == "second" else 0), **make(r, i))) for i in range(50)]
            barrier.wait(10)
            results[key] += target.write(batch)

    threads = [
        threading.Thread(target=send, args=(first, "first", lambda r, i: {f"Race_{r}_{i % 5}": r * i})),
        threading.Thread(
            target=send, args=(second, "second", lambda r, i: {f"Race_{r}_{i % 5}": others[(r + i) % len(others)]})
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert results == {"first": [], "second": []}
    assert count(search_client(kind), prefix) == rounds * 100


@pytest.mark.parametrize("kind", KINDS)
def test_odd_names_under_the_unindexed_field_are_kept_and_site_io_adds_no_hidden_documents(kind, prefix, workdir):
    config = sink_config(private_kafka(), workdir, prefix, number_of_shards=1)
    [target] = FACTORIES[kind](config, CLUSTER[kind])
    site_io = [
        {"SiteName": site, "ChirpString": "cmsRun1", "ReadBytes": 2**40 + n, "ReadTimeMS": 1200}
        for n, site in enumerate(("T2_CH_CERN", "T1_US_FNAL", "T2_DE_DESY"))
    ]
    odd = {name: n for n, name in enumerate(ODD_NAMES)} | {"Nested": {"": {"a.b": [1, "x"]}}}
    docs = [job_doc(n, ChirpCMSSW_SiteIO=site_io, **{schemas.UNINDEXED_FIELD: odd}) for n in range(10)]

    assert target.write([message(doc) for doc in docs]) == []

    search = search_client(kind)
    assert count(search, prefix) == 10
    index = f"{prefix}-{docs[0].index_date}"
    assert sources(search, prefix, docs[:1])[docs[0].id] == docs[0].body
    lucene_docs = search.indices.stats(index=index)["indices"][index]["primaries"]["docs"]["count"]
    assert lucene_docs == 10  # a nested mapping would add one hidden document per SiteIO entry: 40
    props = search.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    assert props["ChirpCMSSW_SiteIO"]["properties"]["ReadBytes"] == {"type": "long"}
    assert props[schemas.UNINDEXED_FIELD] == {"type": "object", "enabled": False}


# Per unregistered field, the values it takes one document after the other: its first value fixes its type in the
# daily index (number, text or bool), every later one has another JSON type or shape.
TYPE_CHANGES = {
    "Custom_NumberFirst": [5, "abc", True, {"a": 1}, [1, "x", False], 2.5, 1.2e24, "12"],
    "Custom_FloatFirst": [2.5, 7, "abc", False, {"a": 1}, 1e300],
    "Custom_TextFirst": ["abc", 5, True, {"a": 1}, 2.5],
    "Custom_BoolFirst": [True, 5, "abc", {"a": 1}, 2.5],
}


@pytest.mark.parametrize("kind", KINDS)
def test_an_unregistered_field_that_changes_type_from_document_to_document_is_never_refused(kind, prefix, workdir):
    """One request per document, so that the first value is indexed first. Every value stays in _source; no
    scalar is refused (only an object meeting a value is moved by the sinks' fallback); a field first seen as a
    number is indexed as one (a range query finds it)."""
    config = sink_config(private_kafka(), workdir, prefix, number_of_shards=1)
    [target] = FACTORIES[kind](config, CLUSTER[kind])
    target.initialize()
    longest = max(len(values) for values in TYPE_CHANGES.values())
    docs = [
        job_doc(n, **{name: values[n] for name, values in TYPE_CHANGES.items() if n < len(values)})
        for n in range(longest)
    ]

    for doc in docs:
        assert target.write([message(doc)]) == [], f"{kind}: {doc.body}"

    search = search_client(kind)
    assert count(search, prefix) == len(docs)
    stored = sources(search, prefix, docs)
    assert {doc.id: restored(stored[doc.id], doc.body) for doc in docs} == {doc.id: doc.body for doc in docs}
    moved = {doc.id: set(stored[doc.id].get(schemas.UNINDEXED_FIELD, {})) for doc in docs}
    objects = {doc.id: {name for name in TYPE_CHANGES if isinstance(doc.body.get(name), dict)} for doc in docs}
    assert moved == objects  # the engine took every scalar itself: only objects met values, and the sink moved them
    index = f"{prefix}-{docs[0].index_date}"
    props = search.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    assert {name: props[name]["type"] for name in TYPE_CHANGES} == {
        "Custom_NumberFirst": "long",
        "Custom_FloatFirst": "double",
        "Custom_TextFirst": "keyword",
        "Custom_BoolFirst": "keyword",
    }
    found = search.search(index=index, body={"query": {"range": {"Custom_NumberFirst": {"gte": 4, "lte": 6}}}})
    assert [hit["_id"] for hit in found["hits"]["hits"]] == [docs[0].id]


def message(doc: Doc) -> DocMessage:
    """A document as the search sinks receive it from Kafka."""
    key, value, _ = encode(doc, git_hash="0123456789ab")
    return DocMessage(id=key.decode(), index_date=doc.index_date, source=doc.source, git_hash="x", value=value)
