"""`spider purge` against the real Elasticsearch (9200) and OpenSearch (9201) of the local stack."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from services.common import purged_releases, topics
from services.common.config import ClusterConfig, KafkaSettings
from services.common.search_clients import client
from services.common.topic_admin import create_topics

from .kafka_helpers import STACK, delete_topics, private_kafka

pytestmark = pytest.mark.integration

CLUSTERS = {
    "es": ClusterConfig(
        name="es", kind="elasticsearch", host="127.0.0.1", port=STACK.port("elasticsearch"), scheme="http"
    ),
    "os": ClusterConfig(name="os", kind="opensearch", host="127.0.0.1", port=STACK.port("opensearch"), scheme="http"),
}
MAPPING = {
    "properties": {
        "RecordTime": {"type": "date", "format": "epoch_second"},
        "GlobalJobId": {"type": "keyword"},
        "metadata": {"properties": {"spider_git_hash": {"type": "keyword"}}},
    }
}
DAY = 86400
JAN_30 = 1738195200  # 2025-01-30T00:00:00Z


@pytest.fixture
def es_conf(tmp_path):
    path = tmp_path / "es_conf.json"
    path.write_text(
        json.dumps(
            [
                {"host": "127.0.0.1", "port": c.port, **c.model_dump(include={"name", "kind", "scheme"})}
                for c in CLUSTERS.values()
            ]
        )
    )
    return path


@pytest.fixture(params=sorted(CLUSTERS))
def cluster(request):
    return CLUSTERS[request.param]


@pytest.fixture
def indices(cluster):
    """Two daily indices: hash A (bad release) and hash B documents mixed."""
    prefix = f"t-{uuid.uuid4().hex[:8]}-cms"
    search = client(cluster)
    docs = {
        f"{prefix}-2025-01-30": [("aaaa", JAN_30 + 60), ("aaaa", JAN_30 + 120), ("bbbb", JAN_30 + 180)],
        f"{prefix}-2025-01-31": [("aaaa", JAN_30 + DAY + 60), ("bbbb", JAN_30 + DAY), ("bbbb", JAN_30 + DAY + 9)],
    }
    for index, rows in docs.items():
        search.indices.create(index=index, body={"mappings": MAPPING})
        for n, (git_hash, record_time) in enumerate(rows):
            body = {"GlobalJobId": f"schedd#{n}", "RecordTime": record_time, "metadata": {"spider_git_hash": git_hash}}
            search.index(index=index, id=f"{index}#{n}", body=body)
    search.indices.refresh(index=f"{prefix}-*")
    yield prefix
    search.indices.delete(index=f"{prefix}-*")


def hashes(cluster: ClusterConfig, pattern: str) -> dict[str, list[str]]:
    body = {"size": 100, "query": {"match_all": {}}}
    hits = client(cluster).search(index=pattern, body=body)["hits"]["hits"]
    found: dict[str, list[str]] = {}
    for hit in hits:
        found.setdefault(hit["_index"], []).append(hit["_source"]["metadata"]["spider_git_hash"])
    return {index: sorted(values) for index, values in sorted(found.items())}


@pytest.fixture
def kafka():
    """A private topic prefix holding the topic purges are recorded in."""
    settings = private_kafka()
    create_topics(settings, specs=tuple(s for s in settings.topic_specs() if s.name == topics.PURGED_RELEASES))
    yield settings
    delete_topics(settings, [settings.topic(topics.PURGED_RELEASES)])


def spider(es_conf, kafka: KafkaSettings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPIDER_ES_CONF_FILE": str(es_conf), "SPIDER_KAFKA__TOPIC_PREFIX": kafka.topic_prefix}
    env.pop("SPIDER_CONFIG", None)
    return subprocess.run(["spider", *args], capture_output=True, text=True, env=env, timeout=120)


def test_dry_run_counts_per_index_and_deletes_nothing(cluster, indices, es_conf, kafka):
    result = spider(es_conf, kafka, "purge", "--git-hash", "aaaa", "--cluster", cluster.name, "--index", f"{indices}-*")

    assert result.returncode == 0, result.stderr
    assert f"cluster {cluster.name} (http://127.0.0.1:{cluster.port}), indices {indices}-*: 3 document(s)" in (
        result.stdout
    )
    assert f"{indices}-2025-01-30: 2" in result.stdout
    assert f"{indices}-2025-01-31: 1" in result.stdout
    assert "Dry run: nothing deleted" in result.stdout
    assert hashes(cluster, f"{indices}-*") == {
        f"{indices}-2025-01-30": ["aaaa", "aaaa", "bbbb"],
        f"{indices}-2025-01-31": ["aaaa", "bbbb", "bbbb"],
    }


def test_purge_deletes_exactly_the_documents_of_the_hash(cluster, indices, es_conf, kafka):
    result = spider(
        es_conf, kafka, "purge", "--git-hash", "aaaa", "--cluster", cluster.name, "--index", f"{indices}-*", "--yes"
    )

    assert result.returncode == 0, result.stderr
    assert "deleted: 3" in result.stdout
    assert [r.git_hash for r in purged_releases.releases(kafka)] == ["aaaa"]  # the sinks skip it from now on
    assert hashes(cluster, f"{indices}-*") == {
        f"{indices}-2025-01-30": ["bbbb"],
        f"{indices}-2025-01-31": ["bbbb", "bbbb"],
    }


def test_purge_since_keeps_the_hash_documents_recorded_before(cluster, indices, es_conf, kafka):
    since = "2025-01-31T00:00:00Z"
    args = ["purge", "--git-hash", "aaaa", "--since", since, "--cluster", cluster.name, "--index", f"{indices}-*"]

    result = spider(es_conf, kafka, *args, "--yes")

    assert result.returncode == 0, result.stderr
    assert "deleted: 1" in result.stdout
    assert hashes(cluster, f"{indices}-*")[f"{indices}-2025-01-31"] == ["bbbb", "bbbb"]
    assert hashes(cluster, f"{indices}-*")[f"{indices}-2025-01-30"] == ["aaaa", "aaaa", "bbbb"]


def test_purge_prints_the_request_for_monit(cluster, indices, es_conf, kafka):
    result = spider(es_conf, kafka, "purge", "--git-hash", "aaaa", "--cluster", cluster.name, "--index", f"{indices}-*")

    assert "monit_prod_condor_raw_metrics*" in result.stdout
    assert '"data.metadata.spider_git_hash": "aaaa"' in result.stdout
