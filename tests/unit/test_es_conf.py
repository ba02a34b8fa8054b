"""The reference's es_conf.json as production has it: an OpenSearch host behind /os (the reference's code) or /es
(its DEPLOYMENT.md), Elasticsearch hosts with a port, certificates verified against a per-cluster CA bundle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.common.config import ClusterConfig, load_es_clusters
from services.common.errors import ConfigError

CERN_CA = "/etc/pki/tls/certs/ca-bundle.trust.crt"


def es_conf(tmp_path: Path, entries: list[dict]) -> Path:
    path = tmp_path / "es_conf.json"
    path.write_text(json.dumps(entries))
    return path


@pytest.mark.parametrize("path", ["os", "es"])
def test_host_behind_a_path_is_opensearch_with_the_path_kept_in_the_url(tmp_path: Path, path: str):
    (cluster,) = load_es_clusters(
        es_conf(tmp_path, [{"host": f"os-cms.cern.ch/{path}", "username": "cms_os_writer", "password": "pw"}])
    )
    assert (cluster.kind, cluster.name, cluster.url) == (
        "opensearch",
        "os-cms.cern.ch",
        f"https://os-cms.cern.ch/{path}",
    )


def test_reference_file_with_both_kinds_and_the_cern_ca(tmp_path: Path):
    clusters = load_es_clusters(
        es_conf(
            tmp_path,
            [
                {
                    "host": "es-cms1.cern.ch",
                    "port": 9203,
                    "username": "cms_writer",
                    "password": "a",
                    "ca_certs": CERN_CA,
                },
                {"host": "os-cms.cern.ch/os", "username": "cms_os_writer", "password": "b", "ca_certs": CERN_CA},
            ],
        )
    )
    assert [(c.kind, c.url, str(c.ca_certs), c.verify_certs) for c in clusters] == [
        ("elasticsearch", "https://es-cms1.cern.ch:9203", CERN_CA, True),
        ("opensearch", "https://os-cms.cern.ch/os", CERN_CA, True),
    ]


def test_path_host_may_name_a_port(tmp_path: Path):
    (cluster,) = load_es_clusters(es_conf(tmp_path, [{"host": "localhost/os", "port": 9244}]))
    assert cluster.url == "https://localhost:9244/os"


def test_certificates_are_verified_unless_turned_off():
    cluster = ClusterConfig.from_reference_entry({"host": "es-cms1.cern.ch", "port": 9203})
    assert cluster.verify_certs is True and cluster.ca_certs is None
    off = ClusterConfig.from_reference_entry({"host": "es-cms1.cern.ch", "port": 9203, "verify_certs": False})
    assert off.verify_certs is False


def test_elasticsearch_host_without_port_is_refused_with_the_paths_that_mean_opensearch(tmp_path: Path):
    with pytest.raises(
        ConfigError, match=r"cluster #1: Elasticsearch host 'es-cms1.cern.ch' needs a 'port' \(or a path /os"
    ):
        load_es_clusters(es_conf(tmp_path, [{"host": "es-cms1.cern.ch"}]))


def test_other_path_stays_elasticsearch_behind_that_prefix(tmp_path: Path):
    (cluster,) = load_es_clusters(es_conf(tmp_path, [{"host": "es-proxy.cern.ch/search", "port": 443}]))
    assert (cluster.kind, cluster.url) == ("elasticsearch", "https://es-proxy.cern.ch:443/search")
