"""Reading ads from files: every ad of the file comes out, malformed ones with their line number."""

from __future__ import annotations

from pathlib import Path

from services.common import raw_message
from services.common.adfile import read_ads

HISTORY_FILE = """\
*** ProcId = 0 ClusterId = 77 Owner = "cmsunified" CompletionDate = 1732470000
GlobalJobId = "vocms0250.cern.ch#77.0#1732400000"
ClusterId = 77
ProcId = 0
JobStatus = 4
RequestMemory = ifthenelse(MemoryUsage =!= undefined, MemoryUsage, 2500)
*** ProcId = 1 ClusterId = 77 Owner = "cmsunified" CompletionDate = 1732470100
GlobalJobId = "vocms0250.cern.ch#77.1#1732400000"
JobStatus = = 4
*** ProcId = 2 ClusterId = 77 Owner = "cmsunified" CompletionDate = 1732470200
GlobalJobId = "vocms0250.cern.ch#77.2#1732400000"
JobStatus = 3
"""

LONG_OUTPUT = """\
GlobalJobId = "crab3@vocms0155.cern.ch#9.0#1732400000"
JobStatus = 2

GlobalJobId = "crab3@vocms0155.cern.ch#9.1#1732400000"
JobStatus = 1
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ads.txt"
    path.write_text(text)
    return path


def test_history_file_banners_separate_ads(tmp_path):
    records = list(read_ads(write(tmp_path, HISTORY_FILE)))
    assert [r.ad["GlobalJobId"] for r in records if r.ad is not None] == [
        "vocms0250.cern.ch#77.0#1732400000",
        "vocms0250.cern.ch#77.2#1732400000",
    ]


def test_malformed_ad_is_reported_with_its_line_and_original_text(tmp_path):
    bad = [r for r in read_ads(write(tmp_path, HISTORY_FILE)) if r.error is not None]
    assert len(bad) == 1
    assert bad[0].line == 8
    assert "invalid expression" in bad[0].error and "JobStatus = = 4" in bad[0].error
    assert bad[0].text.startswith('GlobalJobId = "vocms0250.cern.ch#77.1#1732400000"')


def test_expressions_stay_expressions(tmp_path):
    first = next(iter(read_ads(write(tmp_path, HISTORY_FILE))))
    assert first.ad.eval("RequestMemory") == 2500


def test_blank_lines_separate_condor_history_long_output(tmp_path):
    records = list(read_ads(write(tmp_path, LONG_OUTPUT)))
    assert [(r.line, r.ad["JobStatus"]) for r in records] == [(1, 2), (4, 1)]


def test_ndjson_of_raw_messages_is_read_back_as_raw_ads(tmp_path):
    _, value = raw_message.encode(
        {"GlobalJobId": "s#1.0#1", "JobStatus": 4},
        source="file",
        pool="Global",
        schedd="s",
        collected_at=1732480000.0,
        identity={"version": "0", "git_hash": "x", "host": "h"},
    )
    path = write(tmp_path, value.decode() + "\n\nnot json\n")
    records = list(read_ads(path))
    assert records[0].raw.ad == {"GlobalJobId": "s#1.0#1", "JobStatus": 4}
    assert (records[1].line, records[1].error.startswith("not JSON")) == (3, True)


def test_empty_file_has_no_ads(tmp_path):
    assert list(read_ads(write(tmp_path, "\n\n"))) == []
