"""Synchronous clients of the search clusters of es_conf.json, for tools that talk to them directly.

Elasticsearch 8 clients refuse OpenSearch (product check), so each ClusterConfig gets the client of its kind.
Both clients accept `index`/`body` and the usual query parameters, which is all the tools need.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch
from opensearchpy import OpenSearch

from services.common.config import ClusterConfig


def client(cluster: ClusterConfig, timeout_s: float = 60.0, connections: int = 10) -> Any:
    """`connections`: kept-alive HTTP connections per node, at least the number of threads sharing the client
    (opensearch-py's default of 1 makes concurrent bulk requests reconnect every time)."""
    auth = None
    if cluster.username and cluster.password is not None:
        auth = (cluster.username, cluster.password.get_secret_value())
    tls: dict[str, Any] = {}
    if cluster.scheme == "https":
        tls = {"verify_certs": cluster.verify_certs}
        for key, path in (
            ("ca_certs", cluster.ca_certs),
            ("client_cert", cluster.client_cert),
            ("client_key", cluster.client_key),
        ):
            if path is not None:
                tls[key] = str(path)
    if cluster.kind == "opensearch":
        return OpenSearch(hosts=[cluster.url], http_auth=auth, timeout=timeout_s, pool_maxsize=connections, **tls)
    return Elasticsearch(
        hosts=[cluster.url], basic_auth=auth, request_timeout=timeout_s, connections_per_node=connections, **tls
    )
