"""Elasticsearch 8 as a sink target: the kind-specific client part of services/sinks/bulk.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError

from services.common import search_clients
from services.common.config import ClusterConfig
from services.sinks.bulk import RESPONSE_FILTER, BulkTarget, cluster_targets, properties
from services.sinks.config import SinkConfig
from services.sinks.errors import TargetUnavailable

_JSON = {"accept": "application/json", "content-type": "application/json"}


class ElasticsearchClient:
    def __init__(self, es: Elasticsearch, cluster: ClusterConfig) -> None:
        self.es = es
        self.cluster = cluster

    def bulk(self, body: bytes) -> Mapping[str, Any]:
        try:
            return self.es.bulk(operations=body, filter_path=RESPONSE_FILTER).body
        except (ApiError, TransportError) as exc:
            raise _unavailable(self.cluster, exc) from None

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None:
        try:
            self.es.perform_request("PUT", f"/_index_template/{name}", body=dict(body), headers=_JSON)
        except (ApiError, TransportError) as exc:
            raise _unavailable(self.cluster, exc) from None

    def mapping_properties(self, index: str) -> Mapping[str, Any]:
        try:
            response = self.es.indices.get_mapping(index=index).body
        except NotFoundError:
            return {}
        except (ApiError, TransportError) as exc:
            raise _unavailable(self.cluster, exc) from None
        return properties(response, index)

    def close(self) -> None:
        self.es.close()


def _unavailable(cluster: ClusterConfig, exc: ApiError | TransportError) -> TargetUnavailable:
    return TargetUnavailable(search_clients.failure(cluster, exc))


def _client(cluster: ClusterConfig, timeout_s: float) -> ElasticsearchClient:
    return ElasticsearchClient(search_clients.client(cluster, timeout_s, connections=8), cluster)


def targets(config: SinkConfig, cluster: str | None = None) -> list[BulkTarget]:
    return cluster_targets(config, "elasticsearch", "es", cluster, _client)
