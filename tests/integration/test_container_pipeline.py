"""The image as operators run it: built from deploy/Dockerfile with podman, each service in its own container
against the local stack (host network), non-root with a read-only root file system.

The pipeline is the demo's sample ads under this test's own names (topic prefix, consumer groups, indices,
STOMP destination): `topics create`, then two converters, two `sink es`, one `sink opensearch` and one
`sink amq` as long-running containers, then one `collector --from-file` container per sample file. Every
document must reach both search engines and ActiveMQ.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from deploy.demo.processes import free_port
from deploy.demo.workdir import SAMPLES
from services.common import topics
from services.common.config import KafkaSettings

from .activemq import Subscriber
from .kafka_helpers import BOOTSTRAP, STACK, delete_topics
from .podman import Podman
from .search_sink_support import PORTS, cleanup, count, local_cluster, search_client, wait_for
from .test_demo import EXPECTED_DOCUMENTS

pytestmark = pytest.mark.integration

IMAGE = "localhost/spider:test"
IMAGE_SIZE_LIMIT_MB = 400
MOUNT = "/srv/spider"  # the image's SPIDER_WORKDIR
STOMP_PORT = STACK.port("stomp")
LONG_RUNNING = {
    "converter-1": ["converter"],
    "converter-2": ["converter"],
    "sink-es-1": ["sink", "es"],
    "sink-es-2": ["sink", "es"],
    "sink-opensearch": ["sink", "opensearch"],
    "sink-amq": ["sink", "amq"],
}


@pytest.fixture(scope="module")
def podman(tmp_path_factory) -> Podman:
    return Podman.for_tests(tmp_path_factory.mktemp("podman"))


@pytest.fixture(scope="module")
def image(podman: Podman) -> str:
    seconds = podman.build(IMAGE)
    print(f"image {IMAGE} built in {seconds:.0f} s")
    return IMAGE


@dataclass
class Deployment:
    """A private pipeline: its names, its workdir (mounted read-only at /srv/spider) and its containers."""

    podman: Podman
    image: str
    workdir: Path
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    containers: list[str] = field(default_factory=list)

    @property
    def kafka(self) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=BOOTSTRAP, topic_prefix=f"t-{self.token}.")

    @property
    def index_template(self) -> str:
        return f"t-{self.token}-cms"

    @property
    def amq_destination(self) -> str:
        return f"/topic/t-{self.token}.cms.jobmon.condor"

    def write(self) -> None:
        """The reference layout and spider.toml, readable by the image's non-root user."""
        etc = self.workdir / "etc"
        ads = self.workdir / "ads"
        etc.mkdir(parents=True)
        ads.mkdir()
        clusters = [local_cluster("es", "elasticsearch"), local_cluster("os", "opensearch")]
        (etc / "es_conf.json").write_text(json.dumps(clusters))
        (etc / "amq_username").write_text("spider\n")
        (etc / "amq_password").write_text("local-broker-checks-nothing\n")
        for sample in SAMPLES:
            (ads / sample.path.name).write_bytes(sample.path.read_bytes())
        (self.workdir / "spider.toml").write_text(
            f'[kafka]\nbootstrap_servers = "{BOOTSTRAP}"\ntopic_prefix = "{self.kafka.topic_prefix}"\n'
            f'[converter]\ngroup_id = "t-{self.token}-converter"\n'
            f'[sinks]\nconsumer_group_prefix = "t-{self.token}-sink"\nindex_template = "{self.index_template}"\n'
            "number_of_shards = 1\nnumber_of_replicas = 0\nlinger_s = 0.2\n"
            f'[sinks.amq]\nhosts = ["127.0.0.1:{STOMP_PORT}"]\ntopic = "{self.amq_destination}"\n'
        )
        for path in [self.workdir, *self.workdir.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)

    def options(self, name: str) -> tuple[str, ...]:
        return (
            "--name", f"t-{self.token}-{name}", "--network", "host",
            "--volume", f"{self.workdir}:{MOUNT}:ro", "--env", f"SPIDER_CONFIG={MOUNT}/spider.toml",
            "--env", f"SPIDER_METRICS_PORT={free_port()}",
        )  # fmt: skip

    def start(self, name: str, args: list[str]) -> None:
        self.containers.append(f"t-{self.token}-{name}")
        self.podman.run("run", "--detach", "--runtime", "runc", "--read-only", *self.options(name), self.image, *args)

    def once(self, name: str, *args: str) -> int:
        self.containers.append(f"t-{self.token}-{name}")
        done = self.podman.run("run", "--runtime", "runc", "--read-only", *self.options(name), self.image, *args,
                               check=False, timeout=180)  # fmt: skip
        return done.returncode

    def logs(self) -> str:
        tails = [f"--- {c}\n" + self.podman.run("logs", "--tail", "15", c, check=False).stdout for c in self.containers]
        return "\n".join(tails)[-6000:]


@pytest.fixture
def deployment(podman: Podman, image: str, tmp_path: Path) -> Iterator[Deployment]:
    pipeline = Deployment(podman, image, tmp_path / "workdir")
    pipeline.write()
    yield pipeline
    if pipeline.containers:
        podman.run("rm", "--force", "--time", "10", *pipeline.containers, check=False, timeout=120)
    delete_topics(pipeline.kafka, [pipeline.kafka.topic(spec.name) for spec in topics.TOPICS])
    for kind in ("elasticsearch", "opensearch"):
        cleanup(search_client(kind), pipeline.index_template)


def test_image_runs_every_production_command_and_only_those(podman: Podman, image: str):
    for args in (["--help"], ["converter", "--help"], ["sink", "es", "--help"], ["collector", "--help"]):
        done = podman.spider(image, *args)
        assert done.returncode == 0, f"spider {' '.join(args)}: {done.stdout[-500:]}{done.stderr[-2000:]}"
    version = podman.spider(image, "version")
    assert version.returncode == 0, version.stderr
    assert "conversion: compiled (" in version.stdout
    tooling = podman.spider(image, "-c", "import deploy", options=("--entrypoint", "python"))
    assert "No module named 'deploy'" in tooling.stderr


def test_image_runs_as_non_root_within_the_size_budget(podman: Podman, image: str):
    user = podman.spider(image, "-u", options=("--entrypoint", "id"))
    assert user.stdout.strip() == "10001"
    size = int(podman.run("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())
    print(f"image size {size / 1e6:.0f} MB")
    assert size <= IMAGE_SIZE_LIMIT_MB * 1_000_000


def test_pipeline_in_containers_lands_every_document(deployment: Deployment):
    assert deployment.once("topics", "topics", "create") == 0, deployment.logs()
    subscriber = Subscriber(STOMP_PORT, deployment.amq_destination)
    try:
        for name, args in LONG_RUNNING.items():
            deployment.start(name, args)
        for sample in SAMPLES:
            args = ["collector", "--from-file", f"{MOUNT}/ads/{sample.path.name}", "--source", sample.source]
            status = deployment.once(f"collector-{sample.path.stem}", *args, "--pool", sample.pool)
            assert status in (0, 4), f"collector {sample.path.name}: exit {status}\n{deployment.logs()}"
        searches = {kind: search_client(kind) for kind in PORTS}
        try:
            landed = lambda: all(count(s, deployment.index_template) == EXPECTED_DOCUMENTS for s in searches.values())  # noqa: E731
            wait_for(landed, timeout=150, what=f"{EXPECTED_DOCUMENTS} documents in both search engines", interval=2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{deployment.logs()}") from None
        finally:
            for search in searches.values():
                search.close()
        received = subscriber.wait_for(EXPECTED_DOCUMENTS, timeout=30)
    finally:
        subscriber.close()
    assert len({body["metadata"]["_id"] for _, body in received}) == EXPECTED_DOCUMENTS
    inspected = json.loads(deployment.podman.run("inspect", *deployment.containers[1:7]).stdout)
    assert all(c["HostConfig"]["ReadonlyRootfs"] for c in inspected)
    assert {c["Config"]["User"] for c in inspected} == {"10001:10001"}
