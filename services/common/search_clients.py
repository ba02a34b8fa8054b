"""Synchronous clients of the search clusters of es_conf.json, for tools that talk to them directly.

Elasticsearch 8 clients refuse OpenSearch (product check), so each ClusterConfig gets the client of its kind.
Both clients accept `index`/`body` and the usual query parameters, which is all the tools need.

Certificates are verified unless the cluster says `verify_certs: false`, against its `ca_certs` or the system's
CA bundle. The clients do not retry by themselves: their callers do, with backoff, and say once what went
wrong with `failure` (services/common/logs.py keeps the libraries' per-attempt warnings out of the logs).
"""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch
from opensearchpy import OpenSearch

from services.common import tls_errors
from services.common.config import ClusterConfig, readable

KIND_NAMES = {"elasticsearch": "Elasticsearch", "opensearch": "OpenSearch"}


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
                tls[key] = str(readable(path, f"{key} of cluster {cluster.name}"))
    if cluster.kind == "opensearch":
        return OpenSearch(
            hosts=[cluster.url], http_auth=auth, timeout=timeout_s, pool_maxsize=connections, max_retries=0, **tls
        )
    return Elasticsearch(
        hosts=[cluster.url],
        basic_auth=auth,
        request_timeout=timeout_s,
        connections_per_node=connections,
        max_retries=0,
        **tls,
    )


def failure(cluster: ClusterConfig, exc: Exception) -> str:
    """One line naming the cluster (its URL, which never holds credentials) and the cause of a failed request."""
    where = f"{KIND_NAMES[cluster.kind]} {cluster.url}"
    status = getattr(getattr(exc, "meta", None), "status", None) or getattr(exc, "status_code", None)
    if status == 401:
        return f"{where}: authentication refused (HTTP 401): check username and password of cluster {cluster.name!r}"
    if status == 403:
        return f"{where}: permission denied (HTTP 403) for user {cluster.username!r}"
    tls = tls_errors.cause(exc)
    if tls is not None:
        return f"{where}: {tls} (CA bundle: {cluster.ca_certs or 'the system default'})"
    return f"{where}: {type(exc).__name__}{f' HTTP {status}' if isinstance(status, int) else ''}: {exc}"
