"""OpenSearch 2 as a sink target: the kind-specific client part of services/sinks/bulk.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ImproperlyConfigured, NotFoundError, OpenSearchException

from services.common import search_clients
from services.common.config import ClusterConfig
from services.sinks.bulk import RESPONSE_FILTER, BulkTarget, cluster_targets, properties
from services.sinks.config import SinkConfig
from services.sinks.errors import TargetUnavailable


class OpenSearchClient:
    def __init__(self, client: OpenSearch, cluster: ClusterConfig) -> None:
        self.client = client
        self.cluster = cluster

    def bulk(self, body: bytes) -> Mapping[str, Any]:
        try:
            return self.client.bulk(body=body, filter_path=RESPONSE_FILTER)
        except OpenSearchException as exc:
            raise _unavailable(self.cluster, exc) from None

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None:
        try:
            self.client.indices.put_index_template(name=name, body=dict(body))
        except OpenSearchException as exc:
            raise _unavailable(self.cluster, exc) from None

    def mapping_properties(self, index: str) -> Mapping[str, Any]:
        try:
            response = self.client.indices.get_mapping(index=index)
        except NotFoundError:
            return {}
        except OpenSearchException as exc:
            raise _unavailable(self.cluster, exc) from None
        return properties(response, index)

    def close(self) -> None:
        self.client.close()


def _unavailable(cluster: ClusterConfig, exc: OpenSearchException) -> TargetUnavailable:
    if isinstance(exc, ImproperlyConfigured):
        raise exc
    return TargetUnavailable(search_clients.failure(cluster, exc))


def _client(cluster: ClusterConfig, timeout_s: float) -> OpenSearchClient:
    return OpenSearchClient(search_clients.client(cluster, timeout_s, connections=8), cluster)


def targets(config: SinkConfig, cluster: str | None = None) -> list[BulkTarget]:
    return cluster_targets(config, "opensearch", "opensearch", cluster, _client)
