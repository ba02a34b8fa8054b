"""The demo's own names and working directory.

Everything the demo creates is derived from one name (default `demo`): topics `<name>.*`, indices
`spider-<name>-*`, consumer groups `spider-<name>-*`, the STOMP destination, and the workdir
`<stack dir>/<name>/`. A demo therefore never touches the data of the tests or of another demo, and a
second run can wipe exactly what the first one left.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from deploy.local.config import StackConfig

ADS_DIR = Path(__file__).parent / "ads"
CONFIG_FILE = "spider.toml"
NAME_RULE = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")


@dataclass(frozen=True)
class SampleFile:
    """A committed ad file and the envelope the collector stamps on its ads."""

    path: Path
    source: str
    pool: str


SAMPLES = (
    SampleFile(ADS_DIR / "global-queue.ads", "queue", "Global"),
    SampleFile(ADS_DIR / "global-history.ads", "history", "Global"),
    SampleFile(ADS_DIR / "tier0-queue.ads", "queue", "Tier0"),
    SampleFile(ADS_DIR / "tier0-history.ads", "history", "Tier0"),
)


@dataclass(frozen=True)
class DemoNames:
    name: str

    def __post_init__(self) -> None:
        if not NAME_RULE.match(self.name):
            raise ValueError(f"demo name {self.name!r}: use lower-case letters, digits and '-', at most 31")

    @property
    def topic_prefix(self) -> str:
        return f"{self.name}."

    @property
    def index_prefix(self) -> str:
        return f"spider-{self.name}"

    @property
    def index_pattern(self) -> str:
        return f"{self.index_prefix}-*"

    @property
    def converter_group(self) -> str:
        return f"spider-{self.name}-converter"

    @property
    def sink_group_prefix(self) -> str:
        return f"spider-{self.name}-sink"

    @property
    def amq_destination(self) -> str:
        return f"/topic/spider.{self.name}.cms.jobmon.condor"

    def workdir(self, stack: StackConfig) -> Path:
        return stack.state_dir / self.name


def es_conf(stack: StackConfig) -> list[dict[str, object]]:
    """es_conf.json in the reference layout, with our explicit kind and scheme for the two local clusters."""
    search = {"scheme": "http", "host": stack.host}
    return [
        {"name": "local-es", "kind": "elasticsearch", "port": stack.port("elasticsearch"), **search},
        {"name": "local-os", "kind": "opensearch", "port": stack.port("opensearch"), **search},
    ]


def durability(stack: StackConfig) -> str:
    """On a replicated Kafka, the topics the demo makes are replicated as in production (3 copies, 2 in sync)."""
    if not stack.replicated:
        return ""
    return f"replication_factor = {min(3, stack.kafka_brokers)}\nmin_insync_replicas = {min(2, stack.kafka_brokers)}\n"


def config_toml(names: DemoNames, stack: StackConfig, workdir: Path) -> str:
    """The settings every demo process shares; reusable by hand: SPIDER_CONFIG=<this file> spider status."""
    return f"""\
# Written by `spider demo`; SPIDER_WORKDIR={workdir} SPIDER_CONFIG={workdir / CONFIG_FILE} spider ...
[kafka]
bootstrap_servers = "{stack.endpoints()["kafka"]}"
topic_prefix = "{names.topic_prefix}"
{durability(stack)}
[converter]
group_id = "{names.converter_group}"
datadir = "{workdir / "converter-data"}"

[sinks]
consumer_group_prefix = "{names.sink_group_prefix}"
index_template = "{names.index_prefix}"
number_of_shards = 1
number_of_replicas = 0
linger_s = 0.2

[sinks.amq]
hosts = ["{stack.endpoints()["activemq"]}"]
topic = "{names.amq_destination}"
"""


def write(names: DemoNames, stack: StackConfig) -> Path:
    """Create (or refresh) the workdir in the reference layout; returns its path."""
    workdir = names.workdir(stack)
    etc = workdir / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    (workdir / "logs").mkdir(exist_ok=True)
    (etc / "es_conf.json").write_text(json.dumps(es_conf(stack), indent=2) + "\n")
    # The local broker accepts any login; the files are there because production reads them.
    (etc / "amq_username").write_text("demo\n")
    (etc / "amq_password").write_text("demo\n")
    (workdir / CONFIG_FILE).write_text(config_toml(names, stack, workdir))
    return workdir
