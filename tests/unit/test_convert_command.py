"""`spider convert`: ads from a file -> NDJSON documents through the service's conversion step."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from services.cli import app
from services.common.errors import ExitStatus

DATA = Path(__file__).resolve().parents[1] / "data"
runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, ["convert", *map(str, args)], env=env)


def documents(stdout: bytes) -> list[dict]:
    return [orjson.loads(line) for line in stdout.splitlines() if line.startswith(b"{")]


def without_metadata(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "metadata"}


def test_sample_history_ad_gives_the_golden_document():
    result = run(
        DATA / "ads" / "tier0_completed.ad",
        "--pool", "Global", "--schedd", "vocms0155.cern.ch", "--collected-at", "1703100000",
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    expected = orjson.loads((DATA / "expected" / "tier0_completed.json").read_bytes())["body"]
    (doc,) = documents(result.stdout_bytes)
    assert without_metadata(doc) == without_metadata(expected)
    assert doc["metadata"]["spider_source"] == expected["metadata"]["spider_source"]


def test_collection_time_accepts_iso_8601_with_zone():
    epoch = run(DATA / "ads" / "running_queue.ad", "--source", "queue", "--collected-at", "1701430000")
    iso = run(DATA / "ads" / "running_queue.ad", "--source", "queue", "--collected-at", "2023-12-01T11:26:40Z")

    assert epoch.exit_code == iso.exit_code == 0
    assert without_metadata(documents(epoch.stdout_bytes)[0]) == without_metadata(documents(iso.stdout_bytes)[0])


def test_malformed_ad_is_reported_with_its_line_and_skipped():
    result = run(DATA / "convert" / "history_with_bad_ad", "--collected-at", "1700000000")

    assert result.exit_code == ExitStatus.PARTIAL
    assert len(documents(result.stdout_bytes)) == 2
    assert "history_with_bad_ad:218: skipped malformed ad" in result.stderr
    assert "2 documents, 0 dropped on purpose, 1 skipped" in result.stderr


def test_raw_message_lines_keep_their_envelope_and_bad_lines_are_skipped():
    result = run(DATA / "convert" / "raw_queue.ndjson")

    assert result.exit_code == ExitStatus.PARTIAL
    docs = documents(result.stdout_bytes)
    assert len(docs) == 2
    assert {d["metadata"]["spider_source"] for d in docs} == {"condor_queue"}
    assert "raw_queue.ndjson:3: skipped malformed ad: unsupported schema 'spider.raw_ad/7'" in result.stderr


def test_no_reduce_keeps_every_field_of_a_running_job(tmp_path):
    reduced, full = tmp_path / "reduced.ndjson", tmp_path / "full.ndjson"
    ad = DATA / "ads" / "running_queue.ad"

    assert run(ad, "--source", "queue", "--collected-at", "1701430000", "--output", reduced).exit_code == 0
    assert run(ad, "--source", "queue", "--collected-at", "1701430000", "--no-reduce", "-o", full).exit_code == 0

    (small,), (large,) = documents(reduced.read_bytes()), documents(full.read_bytes())
    assert set(small) < set(large)


def test_the_text_limit_setting_cuts_long_values(tmp_path):
    ad = DATA / "ads" / "tier0_completed.ad"
    long_args = tmp_path / "long_args.ad"
    long_args.write_text(ad.read_text() + 'Args = "' + "--lumi-mask=run-357479.json " * 200 + '"\n')

    result = run(long_args, "--collected-at", "1703100000", env={"SPIDER_MAX_TEXT_BYTES": "2048"})

    assert result.exit_code == 0, result.stderr
    (doc,) = documents(result.stdout_bytes)
    assert len(doc["Args"].encode()) == 2048
    assert doc["Args"].endswith("...[truncated by spider: 5600 bytes]")


def test_bad_options_exit_with_status_2():
    assert run(DATA / "ads" / "running_queue.ad", "--collected-at", "yesterday").exit_code == 2
    assert run(DATA / "ads" / "running_queue.ad", "--source", "startd").exit_code == 2
    assert run(DATA / "does-not-exist.ad").exit_code == 2
