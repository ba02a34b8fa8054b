"""`spider config show` on a workdir laid out like the reference system's production one."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from services import cli
from services.common.errors import ExitStatus

ES_PASSWORD = "Es-Writer-Pa55!"
OS_PASSWORD = "Os-Writer-Pa55!"
AMQ_PASSWORD = "Amq-Pa55-word"

REFERENCE_FILES = {
    "etc/collectors.json": {
        "Global": ["cmsgwms-collector-global.cern.ch:9620", "cmssrv623.fnal.gov:9620"],
        "Volunteer": ["vocms0840.cern.ch"],
    },
    "etc/es_conf.json": [
        {"host": "es-cms1.cern.ch", "port": 9203, "username": "cms_writer", "password": ES_PASSWORD},
        {"host": "os-cms.cern.ch/es", "username": "cms_os_writer", "password": OS_PASSWORD},
    ],
    "checkpoint.json": {"vocms0199.cern.ch": 1700000000.0, "vocms0207.cern.ch": 1700000100.0},
    ".affiliation_dir.json": {"from_date": "2025-01-01 00:00:00", "users": {"jdoe": {"institute": "CERN"}}},
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, content in REFERENCE_FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(json.dumps(content))
    (tmp_path / "etc/amq_username").write_text("cmsjobmon\n")
    (tmp_path / "etc/amq_password").write_text(AMQ_PASSWORD + "\n")
    for name in ("SPIDER_WORKDIR", "SPIDER_CONFIG", "SPIDER_LOG_LEVEL", "AFFILIATION_DIR_LOCATION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def spider(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    """Run the `spider` entry point in-process; returns exit code, stdout, stderr."""
    monkeypatch.setattr(sys, "argv", ["spider", *args])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    out, err = capsys.readouterr()
    return exit_info.value.code or 0, out, err


def show(capsys, monkeypatch, *args: str) -> dict:
    code, out, err = spider(capsys, monkeypatch, "config", "show", "--service", "collector", *args)
    assert code == 0, err
    return json.loads(out)


def test_reference_files_are_read_unchanged(workdir, capsys, monkeypatch):
    report = show(capsys, monkeypatch, "--workdir", str(workdir))["reference_files"]

    assert report["collectors_file"]["pools"] == REFERENCE_FILES["etc/collectors.json"]
    clusters = [(c["kind"], c["url"], c["username"]) for c in report["es_conf_file"]["clusters"]]
    assert clusters == [
        ("elasticsearch", "https://es-cms1.cern.ch:9203", "cms_writer"),
        ("opensearch", "https://os-cms.cern.ch/es", "cms_os_writer"),
    ]
    assert report["amq_username_file"]["value"] == "cmsjobmon"
    assert report["checkpoint_file"]["entries"] == 2


def test_passwords_are_masked_and_never_printed(workdir, capsys, monkeypatch):
    code, out, err = spider(capsys, monkeypatch, "config", "show", "--workdir", str(workdir))

    assert code == 0
    for secret in (ES_PASSWORD, OS_PASSWORD, AMQ_PASSWORD):
        assert secret not in out + err
    report = json.loads(out)["reference_files"]
    assert {c["password"] for c in report["es_conf_file"]["clusters"]} == {"**********"}
    assert report["amq_password_file"]["value"] == "**********"


@pytest.mark.parametrize("name", list(REFERENCE_FILES))
def test_malformed_json_gives_one_line_naming_the_file_and_the_configuration_status(workdir, capsys, monkeypatch, name):
    (workdir / name).write_text('{"Global": ["cmsgwms-collector-global.cern.ch:9620",\n')

    code, out, err = spider(capsys, monkeypatch, "config", "show", "--workdir", str(workdir))

    assert code == ExitStatus.CONFIG
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert str(workdir / name) in err and "malformed JSON at line 2" in err


def test_a_secret_file_that_is_not_text_is_reported_without_its_content(workdir, capsys, monkeypatch):
    (workdir / "etc/amq_password").write_bytes(b"\xffAmq-Pa55")

    code, _, err = spider(capsys, monkeypatch, "config", "show", "--workdir", str(workdir))

    assert code == ExitStatus.CONFIG
    path = workdir / "etc/amq_password"
    assert err.strip() == f"spider: error: {path}: secret file is not UTF-8 text (bad byte at offset 0)"


def test_an_invalid_cluster_entry_names_the_key_but_not_the_value(workdir, capsys, monkeypatch):
    (workdir / "etc/es_conf.json").write_text(json.dumps([{"host": "es-cms1.cern.ch", "port": ES_PASSWORD}]))

    code, _, err = spider(capsys, monkeypatch, "config", "show", "--workdir", str(workdir))

    assert code == ExitStatus.CONFIG
    assert "cluster #1: port:" in err and ES_PASSWORD not in err


def test_log_level_precedence_is_default_then_file_then_environment(workdir, capsys, monkeypatch):
    (workdir / "spider.toml").write_text('log_level = "WARNING"\n')

    default = show(capsys, monkeypatch)["services"]["collector"]["log_level"]
    from_file = show(capsys, monkeypatch, "--config", "spider.toml")["services"]["collector"]["log_level"]
    monkeypatch.setenv("SPIDER_LOG_LEVEL", "error")
    from_env = show(capsys, monkeypatch, "--config", "spider.toml")["services"]["collector"]["log_level"]

    assert (default, from_file, from_env) == ("INFO", "WARNING", "ERROR")


def test_a_cli_flag_beats_the_environment_which_beats_the_file(workdir, tmp_path, capsys, monkeypatch):
    (workdir / "spider.toml").write_text(f'workdir = "{tmp_path / "from-file"}"\n')

    def effective(*args: str) -> str:
        return show(capsys, monkeypatch, "--config", "spider.toml", *args)["services"]["collector"]["workdir"]

    from_file = effective()
    monkeypatch.setenv("SPIDER_WORKDIR", str(tmp_path / "from-env"))
    from_env = effective()
    from_flag = effective("--workdir", str(workdir))

    assert (from_file, from_env, from_flag) == (
        str(tmp_path / "from-file"),
        str(tmp_path / "from-env"),
        str(workdir),
    )


def test_affiliation_dir_location_overrides_the_workdir_file(workdir, tmp_path_factory, capsys, monkeypatch):
    elsewhere = tmp_path_factory.mktemp("affiliations") / "affiliation_dir.json"
    elsewhere.write_text(json.dumps({"users": {}}))
    monkeypatch.setenv("AFFILIATION_DIR_LOCATION", str(elsewhere))

    report = show(capsys, monkeypatch, "--workdir", str(workdir))["reference_files"]["affiliation_file"]

    assert report == {"path": str(elsewhere), "present": True, "entries": 1}
