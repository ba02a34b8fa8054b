"""Which schedds to poll: every collector host of every pool, de-duplicated, filtered by name."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import classad2

from services.collector import metrics
from services.collector.pool import Pool, PoolError
from services.collector.queries import SCHEDD_CONSTRAINT, SCHEDD_PROJECTION
from services.common.errors import SpiderError

log = logging.getLogger(__name__)

LEGACY_POOL = "Unknown"


def discover(
    pool: Pool,
    pools: Mapping[str, Iterable[str]],
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> list[classad2.ClassAd]:
    """Schedd ads tagged with `CMS_Pool`; the first pool that lists a schedd name keeps it.

    One collector host that cannot be queried is a warning: the pool's other hosts usually know the same
    schedds, and the other pools are unaffected. No host answering at all is an error (SpiderError).
    """
    wanted, unwanted = set(include), set(exclude)
    found: dict[str, classad2.ClassAd] = {}
    asked, failed = 0, 0
    for pool_name, hosts in pools.items():
        for host in hosts:
            asked += 1
            try:
                ads = pool.schedd_ads(host, SCHEDD_CONSTRAINT, SCHEDD_PROJECTION)
            except PoolError as exc:
                failed += 1
                metrics.COLLECTOR_FAILURES.labels(collector=host).inc()
                log.warning("collector unreachable, using the others: %s", exc, extra={"collector": host})
                continue
            for ad in ads:
                name = ad.get("Name")
                if not isinstance(name, str) or name in found:
                    continue
                if (wanted and name not in wanted) or name in unwanted:
                    continue
                ad["CMS_Pool"] = pool_name
                found[name] = ad
    if asked and failed == asked:
        raise SpiderError(f"none of the {asked} collector hosts answered; no schedd to poll")
    log.info("found %d schedds in %d pools", len(found), len(pools), extra={"schedds": len(found)})
    return list(found.values())
