"""bench.e2e smoke run: 300 ads through collector, converter and the three sinks, as a user runs the bench.

Checks the JSON report, not speed: every stage is reported with its usage, and every document that the
converter produced is counted in Elasticsearch, OpenSearch and ActiveMQ; with either input format (raw-message
NDJSON forwarded by the collector, or ClassAd text it parses).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ADS = 300
STAGES = {"collector", "converter", "es-local-es", "opensearch-local-os", "amq"}


@pytest.mark.parametrize("input_format", ["ndjson", "classad"])
def test_small_run_reports_every_stage_and_every_document_landed(stack, tmp_path: Path, input_format: str) -> None:
    out = tmp_path / "e2e.json"
    command = [sys.executable, "-m", "bench.e2e", "--ads", str(ADS), "--samples", "50", "--timeout", "120",
               "--input", input_format, "--cache", str(tmp_path / "ads"), "--json", str(out)]  # fmt: skip
    subprocess.run(command, check=True, timeout=180, capture_output=True)

    result = json.loads(out.read_text())
    assert result["options"]["input"] == input_format
    assert result["all_landed"] is True
    assert result["published"] == ADS
    assert result["documents"] == ADS - result["dropped"] > 0
    assert set(result["stages"]) == STAGES
    for name, stage in result["stages"].items():
        assert stage["documents"] == (ADS if name == "collector" else result["documents"]), name
        assert stage["cpu_s_per_1000_docs"] > 0, name
        assert 0 < stage["peak_rss_mb"] < 500, name
    for engine in ("es-local-es", "opensearch-local-os"):
        latency = result["stages"][engine]["latency_s"]
        assert latency["samples"] > 0
        assert 0 < latency["p50"] <= latency["p99"]
