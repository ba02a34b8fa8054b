"""`spider purge`: delete the documents a bad release wrote, found by the git hash stamped on each of them.

Every document carries `metadata.spider_git_hash`; a purge deletes the documents a query on that field
(optionally narrowed to `RecordTime >= since`) finds in the sink's daily indices of each cluster. Data already forwarded
to MONIT through ActiveMQ cannot be deleted from here: the tool prints the request to send to MONIT.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from services.common.config import ClusterConfig
from services.common.errors import SpiderError
from services.common.search_clients import client
from services.recovery.timepoints import iso

MONIT_INDEX = "monit_prod_condor_raw_metrics*"
PAGE = 5000


@dataclass(frozen=True)
class ClusterPurge:
    cluster: str
    counts: dict[str, int]
    deleted: int | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def query(git_hash: str, since: datetime | None = None, field_prefix: str = "") -> dict[str, Any]:
    """The bool query selecting a release's documents; `field_prefix` is "data." for MONIT's copies."""
    clauses: list[dict[str, Any]] = [{"term": {f"{field_prefix}metadata.spider_git_hash": git_hash}}]
    if since is not None:
        seconds = int(since.timestamp())
        # explicit format: a bare number on a date field is read as milliseconds by Elasticsearch 8
        if field_prefix:
            bound: dict[str, Any] = {"gte": seconds * 1000, "format": "epoch_millis"}
        else:
            bound = {"gte": seconds, "format": "epoch_second"}
        clauses.append({"range": {f"{field_prefix}RecordTime": bound}})
    return {"bool": {"filter": clauses}}


def select(clusters: list[ClusterConfig], name: str | None) -> list[ClusterConfig]:
    if name is None:
        return clusters
    chosen = [c for c in clusters if c.name == name]
    if not chosen:
        raise SpiderError(f"no cluster named {name!r} in es_conf.json (known: {', '.join(c.name for c in clusters)})")
    return chosen


def _failure(cluster: ClusterConfig, exc: Exception) -> SpiderError:
    return SpiderError(f"cluster {cluster.name} ({cluster.url}): {type(exc).__name__}: {exc}")


def count(cluster: ClusterConfig, index: str, selector: dict[str, Any]) -> ClusterPurge:
    """Matching documents per index, without changing anything."""
    body = {"size": 0, "query": selector, "aggs": {"by_index": {"terms": {"field": "_index", "size": 10000}}}}
    try:
        answer = client(cluster).search(index=index, body=body)
    except Exception as exc:
        raise _failure(cluster, exc) from None
    buckets = answer["aggregations"]["by_index"]["buckets"]
    return ClusterPurge(cluster.name, {b["key"]: b["doc_count"] for b in buckets})


def _matching(search: Any, index: str, selector: dict[str, Any]) -> Iterator[list[tuple[str, str]]]:
    """(index, id) of the matching documents, a page at a time, from a scroll (a snapshot of the query)."""
    page = search.search(
        index=index, scroll="5m", body={"query": selector, "size": PAGE, "_source": False, "sort": ["_doc"]}
    )
    scroll_id = page.get("_scroll_id")
    try:
        while page["hits"]["hits"]:
            yield [(hit["_index"], hit["_id"]) for hit in page["hits"]["hits"]]
            page = search.scroll(scroll_id=scroll_id, scroll="5m")
            scroll_id = page.get("_scroll_id", scroll_id)
    finally:
        if scroll_id:
            search.clear_scroll(scroll_id=scroll_id)


def delete(cluster: ClusterConfig, index: str, selector: dict[str, Any]) -> ClusterPurge:
    """Delete the matching documents; counts first, so the report says what was there.

    Scroll + bulk deletes rather than _delete_by_query: the same result, and it also works on clusters
    without the reindex module (which provides _delete_by_query).
    """
    before = count(cluster, index, selector)
    search = client(cluster, timeout_s=600)
    deleted = 0
    try:
        for page in _matching(search, index, selector):
            answer = search.bulk(body=[{"delete": {"_index": i, "_id": d}} for i, d in page])
            results = [next(iter(item.values())) for item in answer["items"]]
            failed = [r for r in results if r.get("status", 500) >= 300 and r.get("result") != "not_found"]
            if failed:
                raise SpiderError(f"cluster {cluster.name}: {len(failed)} deletion(s) failed, e.g. {failed[0]}")
            deleted += sum(1 for r in results if r.get("result") == "deleted")
        search.indices.refresh(index=index)
    except SpiderError:
        raise
    except Exception as exc:
        raise _failure(cluster, exc) from None
    return ClusterPurge(cluster.name, before.counts, deleted)


def monit_request(git_hash: str, since: datetime | None) -> str:
    """Text to send to MONIT: their copies live in monit_prod_condor_raw_metrics*, fields under `data.`."""
    since_text = f" and data.RecordTime >= {int(since.timestamp()) * 1000} ({iso(since)})" if since else ""
    body = orjson.dumps({"query": query(git_hash, since, field_prefix="data.")}, option=orjson.OPT_INDENT_2)
    return (
        "Documents already forwarded to MONIT over ActiveMQ cannot be deleted from here. Ask the MONIT team to\n"
        f"delete from {MONIT_INDEX} the documents with data.metadata.spider_git_hash = {git_hash!r}{since_text},\n"
        f"i.e. POST {MONIT_INDEX}/_delete_by_query with:\n{body.decode()}\n"
        "and tell HDFS users to filter out that hash in their Spark jobs until MONIT confirms."
    )
