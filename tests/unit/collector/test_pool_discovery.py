"""Schedd discovery and the file-backed pool, made of real ClassAds read from tests/data/collector_pool."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services.collector.discovery import discover
from services.collector.pool import FilePool, PoolError
from services.collector.queries import history_constraint, queue_constraint

DATA = Path(__file__).parents[2] / "data" / "collector_pool"
NOW = 1_732_460_000.0
POOLS = {
    "Global": ["cmsgwms-collector-global.cern.ch:9620", "cmssrv623.fnal.gov:9620"],
    "Volunteer": ["vocms0840.cern.ch:9618"],
}


@pytest.fixture
def pool() -> FilePool:
    return FilePool(DATA)


def names(ads) -> list[str]:
    return sorted(ad["Name"] for ad in ads)


def test_discovery_finds_cms_schedds_of_every_pool_once(pool):
    assert names(discover(pool, POOLS)) == ["crab3@vocms0155.cern.ch", "vocms0250.cern.ch", "vocms0267.cern.ch"]


def test_each_schedd_is_tagged_with_the_first_pool_listing_it(pool):
    tags = {ad["Name"]: ad["CMS_Pool"] for ad in discover(pool, POOLS)}
    assert tags == {
        "crab3@vocms0155.cern.ch": "Global",
        "vocms0250.cern.ch": "Global",
        "vocms0267.cern.ch": "Volunteer",
    }


def test_discovery_keeps_only_the_projected_attributes(pool):
    ad = next(ad for ad in discover(pool, POOLS) if ad["Name"] == "vocms0250.cern.ch")
    assert set(ad.keys()) == {"Name", "MyAddress", "ScheddIpAddr", "CondorVersion", "CMS_Pool"}


def test_unreachable_collector_is_a_warning_and_the_others_are_used(pool, caplog):
    pools = {"Global": ["cmsgwms-collector-down.cern.ch:9620", "cmssrv623.fnal.gov:9620"]}
    assert names(discover(pool, pools)) == ["vocms0250.cern.ch"]
    assert "cmsgwms-collector-down.cern.ch:9620" in caplog.text


def test_include_list_keeps_only_the_named_schedds(pool):
    assert names(discover(pool, POOLS, include=["vocms0267.cern.ch"])) == ["vocms0267.cern.ch"]


def test_exclude_list_drops_the_named_schedds(pool):
    found = discover(pool, POOLS, exclude=["crab3@vocms0155.cern.ch"])
    assert names(found) == ["vocms0250.cern.ch", "vocms0267.cern.ch"]


def test_queue_query_returns_active_and_recently_finished_cms_vanilla_jobs(pool):
    schedd = next(ad for ad in discover(pool, POOLS) if ad["Name"] == "vocms0250.cern.ch")
    jobs = pool.query_queue(schedd, queue_constraint(NOW, 3660))
    assert sorted(ad["GlobalJobId"].split("#")[1] for ad in jobs) == ["1000.0", "1001.0", "1001.1", "1001.2"]


def test_history_is_returned_newest_first_and_limited_by_match(pool):
    schedd = next(ad for ad in discover(pool, POOLS) if ad["Name"] == "vocms0250.cern.ch")
    ads = pool.query_history(schedd, history_constraint(int(NOW) - 4 * 3600), 2)
    assert [ad["EnteredCurrentStatus"] for ad in ads] == [int(NOW) - 300, int(NOW) - 1500]


def test_schedd_without_files_is_unreachable(tmp_path):
    shutil.copytree(DATA / "collectors", tmp_path / "collectors")
    pool = FilePool(tmp_path)
    schedd = discover(pool, POOLS)[0]
    with pytest.raises(PoolError, match="unreachable"):
        pool.query_queue(schedd, "true")
