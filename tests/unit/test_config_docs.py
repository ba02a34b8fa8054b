"""docs/configuration.md is generated from the config classes and must match them exactly."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from services.cli import SERVICE_CONFIGS, app
from services.common.config import SpiderSettings, load_settings
from services.common.config_docs import render, undescribed
from services.converter.config import ConverterConfig

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def rows(text: str) -> dict[str, list[str]]:
    """Table rows of the reference keyed by TOML key: [setting, env, toml, type, default, meaning]."""
    found = {}
    for line in text.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            found[cells[2].strip("`")] = cells
    return found


def test_committed_reference_matches_the_config_classes():
    expected = render(SERVICE_CONFIGS)
    assert DOCS.read_text(encoding="utf-8") == expected, (
        "docs/configuration.md is out of date with the config classes: run `spider config docs` and commit it"
    )


def test_every_setting_says_what_it_means():
    assert undescribed(SERVICE_CONFIGS) == [], "add Field(description=...) to these settings"


def test_nested_kafka_setting_has_double_underscore_env_and_dotted_toml_key():
    row = rows(render(SERVICE_CONFIGS))["kafka.bootstrap_servers"]
    assert row[1] == "`SPIDER_KAFKA__BOOTSTRAP_SERVERS`"
    assert row[4] == "`127.0.0.1:9092`"


def test_reference_alias_is_documented_as_the_environment_name():
    row = rows(render(SERVICE_CONFIGS))["converter.affiliation_file"]
    assert row[1] == "`AFFILIATION_DIR_LOCATION`, `SPIDER_AFFILIATION_FILE`"


def test_documented_environment_names_are_the_ones_the_settings_read(monkeypatch):
    table = rows(render(SERVICE_CONFIGS))
    monkeypatch.setenv(table["kafka.topic_prefix"][1].strip("`"), "prod.")
    monkeypatch.setenv(table["metrics_port"][1].strip("`"), "9101")
    monkeypatch.setenv(table["converter.affiliation_file"][1].split(", ")[0].strip("`"), "/srv/aff.json")
    settings = load_settings(ConverterConfig)
    assert (settings.kafka.topic_prefix, settings.metrics_port, settings.affiliation_file) == (
        "prod.",
        9101,
        Path("/srv/aff.json"),
    )


def test_service_settings_are_listed_under_their_toml_table():
    table = rows(render(SERVICE_CONFIGS))
    for name, cls in SERVICE_CONFIGS.items():
        own = set(cls.model_fields) - set(SpiderSettings.model_fields)
        for field in own:
            assert any(key == f"{cls.section}.{field}" or key.startswith(f"{cls.section}.{field}.") for key in table), (
                f"{name}: {field}"
            )


def test_cli_check_mode_reports_a_stale_file(tmp_path):
    stale = tmp_path / "configuration.md"
    stale.write_text("# Configuration reference\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["config", "docs", "--check", "--output", str(stale)])
    assert result.exit_code == 1
    result = runner.invoke(app, ["config", "docs", "--output", str(stale)])
    assert result.exit_code == 0
    assert runner.invoke(app, ["config", "docs", "--check", "--output", str(stale)]).exit_code == 0
