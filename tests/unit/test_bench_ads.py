"""The benchmark ads look like a schedd's history: nearly every job with its own attribute list."""

from __future__ import annotations

from collections import defaultdict

from bench.ads import realistic_ads
from services.converter.sanitize import unindexable

ADS = realistic_ads(600, seed=5, kind="mixed")


def test_nearly_every_ad_has_an_attribute_list_of_its_own() -> None:
    assert len({tuple(ad.keys()) for ad in ADS}) >= 0.9 * len(ADS)


def test_ads_have_production_sizes() -> None:
    assert all(200 <= len(ad) <= 230 for ad in ADS)
    assert all(6000 <= len(ad.printOld()) <= 9000 for ad in ADS)


def test_per_job_keys_name_the_sites_read_the_steps_run_and_the_slots_matched() -> None:
    keys = {key for ad in ADS for key in ad}
    assert len({key for key in keys if "_IOSite_" in key}) > 20
    assert {f"ChirpCMSSW_cmsRun{n}_Events" for n in (1, 2, 3, 4)} <= keys
    assert {"MachineAttrCpus0", "MachineAttrCpus1", "MachineAttrCpus2"} <= keys


def test_trouble_attributes_only_for_some_jobs() -> None:
    held = sum("NumHolds" in ad for ad in ADS)
    evicted = sum("LastVacateTime" in ad for ad in ADS)
    assert 0 < held < len(ADS) / 2 and 0 < evicted < len(ADS) / 2


def test_the_same_attribute_holds_values_of_different_types_in_different_jobs() -> None:
    types: dict[str, set[str]] = defaultdict(set)
    for ad in ADS:
        for key in ("AnalysisTag", "MassPoint", "CRAB_Id", "MATCH_EXP_JOB_GLIDEIN_ProcId", "RequestCpus"):
            if key in ad:
                types[key].add(type(ad.eval(key)).__name__ if key != "RequestCpus" else type(ad[key]).__name__)
    assert all(len(found) >= 2 for found in types.values()), types
    assert len(types["AnalysisTag"]) >= 4  # int, float, bool, text, list, nested ClassAd


def test_a_few_ads_carry_names_no_index_can_hold() -> None:
    odd = sum(any(unindexable(key) for key in ad) for ad in ADS)
    assert 0 < odd < len(ADS) / 10


def test_the_uniform_mode_repeats_a_few_hundred_attribute_lists() -> None:
    uniform = realistic_ads(600, seed=5, kind="mixed", diverse=False)
    assert len({tuple(ad.keys()) for ad in uniform}) < 0.5 * len(uniform)
