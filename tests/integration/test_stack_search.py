"""Elasticsearch and OpenSearch of the local stack: a bulk write is searchable, each through its own client."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch
from elasticsearch import helpers as es_helpers
from opensearchpy import OpenSearch
from opensearchpy import helpers as os_helpers

pytestmark = pytest.mark.integration

JOBS = [
    {"GlobalJobId": "vocms0199.cern.ch#1.0#1700000000", "Status": "Completed", "CoreHr": 2.5, "Site": "T2_CH_CERN"},
    {"GlobalJobId": "vocms0199.cern.ch#2.0#1700000001", "Status": "Running", "CoreHr": 0.5, "Site": "T1_US_FNAL"},
    {"GlobalJobId": "vocms0199.cern.ch#3.0#1700000002", "Status": "Completed", "CoreHr": 8.0, "Site": "T1_US_FNAL"},
]


def _clients(stack):
    return {
        "elasticsearch": (Elasticsearch(stack.elasticsearch_url, request_timeout=30), es_helpers.bulk),
        "opensearch": (OpenSearch(stack.opensearch_url, timeout=30), os_helpers.bulk),
    }


@pytest.mark.parametrize("server", ["elasticsearch", "opensearch"])
def test_bulk_written_jobs_are_found_by_a_term_search(stack, unique, server):
    client, bulk = _clients(stack)[server]
    index = f"t-{unique}-jobs"
    try:
        actions = [{"_index": index, "_id": job["GlobalJobId"], "_source": job} for job in JOBS]
        written, errors = bulk(client, actions, refresh="wait_for")
        assert (written, errors) == (3, [])

        query = {"query": {"term": {"Site.keyword": "T1_US_FNAL"}}, "sort": ["CoreHr"]}
        result = client.search(index=index, body=query)
        assert [hit["_id"] for hit in result["hits"]["hits"]] == [
            "vocms0199.cern.ch#2.0#1700000001",
            "vocms0199.cern.ch#3.0#1700000002",
        ]
    finally:
        client.indices.delete(index=index, ignore_unavailable=True)
