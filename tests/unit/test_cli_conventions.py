"""Conventions every `spider` command keeps: --version, shell completion, one exit status per cause
(services/common/errors.py, docs/runbook.md "Exit codes"), option values read as usage errors, configuration
errors reported before any connection, and help texts that read as sentences.

"No connection attempted" is observed, not assumed: Kafka (and a search cluster, where one is configured) points
at a socket that listens, and the test looks at whether anything connected to it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from services.cli import app
from services.common.errors import ConfigError, ExitStatus, SpiderError
from services.recovery.replay import GroupActive

SPIDER = Path(sys.executable).with_name("spider")
RUNBOOK = Path(__file__).parents[2] / "docs" / "runbook.md"


class Listener:
    """A TCP port that accepts connections and remembers whether any arrived."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.socket.setblocking(False)
        self.port = self.socket.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"

    def connected(self) -> bool:
        try:
            self.socket.accept()[0].close()
        except BlockingIOError:
            return False
        return True


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.socket.close()


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listener: Listener) -> Path:
    """A working directory with no spider settings but Kafka at the listener."""
    for name in [n for n in os.environ if n.startswith("SPIDER_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SPIDER_KAFKA__BOOTSTRAP_SERVERS", listener.address)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def spider(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The installed console script, as an operator or a supervisor runs it."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "200"}
    return subprocess.run([SPIDER, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False)


# -- --version ----------------------------------------------------------------------------------------------------


def test_version_flag_prints_what_the_version_command_prints() -> None:
    runner = CliRunner()

    flag, command = runner.invoke(app, ["--version"]), runner.invoke(app, ["version"])

    assert flag.exit_code == command.exit_code == ExitStatus.OK
    assert flag.stdout == command.stdout
    assert re.match(r"spider \d+\.\d+\.\d+\S* \(git \w+\)\nconversion: ", flag.stdout)


# -- shell completion ---------------------------------------------------------------------------------------------


def test_completion_script_is_shown_for_bash() -> None:
    shown = spider("--show-completion", "bash")

    assert shown.returncode == ExitStatus.OK, shown.stderr
    assert "_SPIDER_COMPLETE=complete_bash" in shown.stdout
    assert "complete -o default -F _spider_completion spider" in shown.stdout


@pytest.mark.parametrize(
    ("line", "offered"),
    [
        ("spider st", {"stack", "status"}),  # `stack` is a development command, loaded only when asked for
        ("spider sink ", {"es", "opensearch", "amq"}),
        ("spider replay spider-converter --to-", {"--to-time", "--to-offsets", "--to-earliest", "--to-latest"}),
        ("spider dlq ", {"count", "show", "redrive"}),
    ],
)
def test_bash_completion_offers_commands_arguments_and_options(line: str, offered: set[str]) -> None:
    words = line.split(" ")
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "_SPIDER_COMPLETE": "complete_bash"}
    env.update(COMP_WORDS=line, COMP_CWORD=str(len(words) - 1))

    done = subprocess.run([SPIDER], capture_output=True, text=True, timeout=60, env=env, check=False)

    assert done.returncode == ExitStatus.OK, done.stderr
    assert set(done.stdout.split()) == offered


# -- the exit statuses --------------------------------------------------------------------------------------------


def test_every_cause_has_its_own_exit_status() -> None:
    assert len(set(ExitStatus)) == len(ExitStatus.__members__)
    assert typer.BadParameter("x").exit_code == ExitStatus.USAGE  # click's usage errors keep theirs
    assert SpiderError("x").exit_code == ExitStatus.FAILURE
    assert ConfigError("x").exit_code == ExitStatus.CONFIG
    assert GroupActive("x").exit_code == ExitStatus.REFUSED


def test_the_runbook_table_lists_every_exit_status_as_the_code_defines_it() -> None:
    section = RUNBOOK.read_text(encoding="utf-8").split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \|", section, flags=re.MULTILINE)

    assert [(int(code), name) for code, name in rows] == [(s.value, s.name) for s in ExitStatus]


def test_a_runtime_failure_exits_1_and_the_listener_notices_a_connection(isolated: Path, listener: Listener) -> None:
    """The control of the tests below: a command that does connect is seen connecting (Kafka never answers)."""
    result = spider("status")

    assert result.returncode == ExitStatus.FAILURE, result.stderr
    assert f"Kafka at {listener.address} is unreachable" in result.stderr
    assert listener.connected()


# -- option values that cannot be read are usage errors -----------------------------------------------------------

REPLAY_TARGETS = "'--to-time' / '--to-offsets' / '--to-earliest' / '--to-latest'"
BAD_OPTIONS = {
    "replay --to-time yesterday": (["replay", "spider-converter", "--to-time", "yesterday"], "'--to-time'"),
    "replay --to-time out of range": (["replay", "spider-converter", "--to-time", "1e20"], "'--to-time'"),
    "replay --to-offsets without offset": (
        ["replay", "spider-sink-amq", "--to-offsets", "docs.queue:0"],
        "'--to-offsets'",
    ),
    "replay with two targets": (["replay", "g", "--to-earliest", "--to-latest"], REPLAY_TARGETS),
    "replay without target": (["replay", "spider-converter"], REPLAY_TARGETS),
    "dlq count --since": (["dlq", "count", "--since", "last week"], "'--since'"),
    "dlq count --until": (["dlq", "count", "--until", "2025-13-01"], "'--until'"),
    "dlq redrive --at": (["dlq", "redrive", "--at", "dlq.sinks:zero:5", "--yes"], "'--at'"),
    "dlq show position": (["dlq", "show", "dlq.sinks:0:-1"], "'TOPIC:PARTITION:OFFSET'"),
    "dlq show --since after --until": (["dlq", "show", "--since", "2025-02-01", "--until", "2025-01-01"], "'--since'"),
    "status --dead-letters-since": (["status", "--dead-letters-since", "24h"], "'--dead-letters-since'"),
    "purge --since": (["purge", "--git-hash", "0123abc", "--since", "monday", "--yes"], "'--since'"),
    "purge without what": (["purge", "--yes"], "'--git-hash' / '--list' / '--release'"),
    "convert --collected-at": (["convert", "/dev/null", "--collected-at", "2025-01-31T12:00"], "'--collected-at'"),
    "collector --source": (["collector", "--from-file", "/dev/null", "--source", "both"], "'--source'"),
    "sink kind": (["sink", "elasticsearch"], "'kind'"),
    "sink amq --cluster": (["sink", "amq", "--cluster", "es-cms"], "'--cluster'"),
}


@pytest.mark.parametrize(("args", "option"), BAD_OPTIONS.values(), ids=BAD_OPTIONS)
def test_an_option_value_that_cannot_be_read_is_a_usage_error_naming_the_option(
    isolated: Path, listener: Listener, args: list[str], option: str
) -> None:
    result = CliRunner().invoke(app, args, env={"COLUMNS": "300"})

    assert result.exit_code == ExitStatus.USAGE, result.output
    assert f"Invalid value for {option}" in result.stderr
    assert not listener.connected()


# -- configuration errors come first ------------------------------------------------------------------------------


@dataclass
class Broken:
    """A command and what is wrong with its configuration; {kafka}/{listener} stand for the listener's address."""

    args: list[str]
    files: dict[str, str | bytes] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    reported: str = ""


SASL = {"SPIDER_KAFKA__SECURITY_PROTOCOL": "SASL_SSL", "SPIDER_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512"}
CLUSTERS = '[{"host": "127.0.0.1", "port": {port}, "scheme": "http", "name": "local"}]'
BROKEN = {
    "collector, malformed collectors.json": Broken(
        ["collector"],
        {"etc/collectors.json": '{"Global": ["cmsgwms-collector-global.cern.ch:9620",\n'},
        {},
        "etc/collectors.json: malformed JSON at line 2",
    ),
    "collector --once, collectors.json not an object": Broken(
        ["collector", "--once"],
        {"etc/collectors.json": '["vocms0840.cern.ch"]'},
        {},
        'etc/collectors.json: expected an object of pool name -> list of "host:port" strings',
    ),
    "collector --from-file, missing Kafka CA": Broken(
        ["collector", "--from-file", "/dev/null"],
        {},
        {"SPIDER_KAFKA__SSL_CA_LOCATION": "pki/ca.pem"},
        "pki/ca.pem: kafka.ssl_ca_location not found",
    ),
    "converter, missing SASL password file": Broken(
        ["converter"],
        {},
        {**SASL, "SPIDER_KAFKA__SASL_PASSWORD_FILE": "secrets/kafka_password"},
        "secrets/kafka_password: secret file not found",
    ),
    "sink es, malformed es_conf.json": Broken(
        ["sink", "es"],
        {"etc/es_conf.json": '[{"host": "es-cms1.cern.ch", "port": 9203,\n'},
        {},
        "etc/es_conf.json: malformed JSON at line 2",
    ),
    "sink opensearch, cluster without host": Broken(
        ["sink", "opensearch"],
        {"etc/es_conf.json": '[{"port": 443, "username": "cms_os_writer"}]'},
        {},
        "etc/es_conf.json: cluster #1: every cluster needs a 'host'",
    ),
    "sink es, missing cluster CA": Broken(
        ["sink", "es"],
        {"etc/es_conf.json": CLUSTERS.replace('"http"', '"https", "ca_certs": "/etc/pki/none.crt"')},
        {},
        "/etc/pki/none.crt: ca_certs of cluster local not found",
    ),
    "sink es, empty Kafka SASL password": Broken(
        ["sink", "es"],
        {"etc/es_conf.json": CLUSTERS, "kafka_password": "\n"},
        {**SASL, "SPIDER_KAFKA__SASL_PASSWORD_FILE": "kafka_password"},
        "kafka_password: secret file is empty",
    ),
    "sink amq, password file not text": Broken(
        ["sink", "amq"],
        {"etc/amq_username": "cmsjobmon\n", "etc/amq_password": b"\xffAmq-Pa55"},
        {},
        "etc/amq_password: secret file is not UTF-8 text",
    ),
    "status, malformed TOML": Broken(
        ["status", "--config", "spider.toml"],
        {"spider.toml": '[kafka]\nbootstrap_servers = "{kafka}\n'},
        {},
        "spider.toml: malformed TOML",
    ),
    "replay, missing Kafka client key": Broken(
        ["replay", "spider-converter", "--to-earliest"],
        {},
        {"SPIDER_KAFKA__SSL_KEY_LOCATION": "pki/spider.key"},
        "pki/spider.key: kafka.ssl_key_location not found",
    ),
    "purge --yes, malformed es_conf.json (nothing recorded)": Broken(
        ["purge", "--git-hash", "0123abc", "--yes"],
        {"etc/es_conf.json": "{"},
        {},
        "etc/es_conf.json: malformed JSON at line 1",
    ),
    "dlq count, invalid setting": Broken(
        ["dlq", "count"],
        {},
        {"SPIDER_KAFKA__REPLICATION_FACTOR": "0"},
        "invalid setting kafka.replication_factor",
    ),
    "affiliations refresh, missing robot certificate": Broken(
        ["affiliations", "refresh"],
        {},
        {"SPIDER_CRIC_CERT_FILE": "robot/usercert.pem"},
        "robot/usercert.pem: cric_cert_file not found",
    ),
    "topics create, missing SASL password file": Broken(
        ["topics", "create"],
        {},
        {**SASL, "SPIDER_KAFKA__SASL_PASSWORD_FILE": "/run/secrets/none"},
        "/run/secrets/none: secret file not found",
    ),
}


@pytest.mark.parametrize("case", BROKEN.values(), ids=BROKEN)
def test_a_configuration_error_is_reported_before_any_connection(
    isolated: Path, listener: Listener, monkeypatch: pytest.MonkeyPatch, case: Broken
) -> None:
    for name, content in case.files.items():
        path = isolated / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content.replace("{port}", str(listener.port)).replace("{kafka}", listener.address))
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)

    result = spider(*case.args)

    assert result.returncode == ExitStatus.CONFIG, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith("spider: error: ")
    assert case.reported in result.stderr
    assert not listener.connected()


# -- help texts ---------------------------------------------------------------------------------------------------


def _commands(command: TyperGroup, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    ctx = typer.Context(command)
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        yield (*path, name), sub
        if hasattr(sub, "list_commands"):
            yield from _commands(sub, (*path, name))


PRODUCTION = [(path, cmd) for path, cmd in _commands(typer.main.get_command(app)) if path[0] not in ("stack", "demo")]


@pytest.mark.parametrize(("path", "command"), PRODUCTION, ids=[" ".join(p) for p, _ in PRODUCTION])
def test_every_command_has_a_one_line_summary_and_every_option_a_help_text(path, command) -> None:
    summary = (command.help or "").split("\n\n")[0].strip()

    assert summary, f"spider {' '.join(path)} has no help"
    assert "\n" not in summary, f"spider {' '.join(path)}: the listing would break the summary mid-sentence"
    for param in getattr(command, "params", []):
        assert getattr(param, "help", None), f"spider {' '.join(path)} {param.name}: no help text"
