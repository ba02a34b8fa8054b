"""The end-to-end benchmark's input files: the same ads as raw-message NDJSON or as ClassAd text."""

from __future__ import annotations

from pathlib import Path

from bench.ads import BASE_TIME
from bench.e2e import adfiles
from services.common.adfile import read_ads

ADS = 40


def test_ndjson_files_hold_the_envelopes_a_schedd_poll_would_publish(tmp_path: Path) -> None:
    files = adfiles.write(tmp_path, ADS, fmt="ndjson")

    queue = [record.raw for record in read_ads(files.queue)]
    history = [record.raw for record in read_ads(files.history)]

    assert len(queue) == files.queue_ads > 0 and len(history) == files.history_ads > 0
    assert {raw.source for raw in queue} == {"condor_queue"}
    assert {raw.source for raw in history} == {"condor_history"}
    assert len({raw.snapshot_id for raw in queue}) == 1 and queue[0].snapshot_id is not None
    assert {raw.snapshot_id for raw in history} == {None}
    assert {raw.collected_at for raw in queue + history} == {BASE_TIME}
    assert {raw.pool for raw in queue + history} == {"Global"}
    assert all(raw.schedd == raw.global_job_id.split("#")[0] for raw in queue + history)
    assert [raw.global_job_id for raw in queue + history] == files.job_ids


def test_both_formats_carry_the_same_ads_in_the_same_files(tmp_path: Path) -> None:
    ndjson = adfiles.write(tmp_path, ADS, fmt="ndjson")
    classad = adfiles.write(tmp_path, ADS, fmt="classad")

    for path_ndjson, path_classad in ((ndjson.queue, classad.queue), (ndjson.history, classad.history)):
        as_json = [record.raw.ad for record in read_ads(path_ndjson)]
        as_text = [record.ad for record in read_ads(path_classad)]
        assert [ad["GlobalJobId"] for ad in as_json] == [ad["GlobalJobId"] for ad in as_text]
        assert [ad["JobStatus"] for ad in as_json] == [ad["JobStatus"] for ad in as_text]
    assert classad.job_ids == ndjson.job_ids
    assert (classad.queue.suffix, ndjson.queue.suffix) == (".ads", ".ndjson")
