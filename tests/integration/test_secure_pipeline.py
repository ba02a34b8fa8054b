"""The whole pipeline over the secure stack (`spider stack up --secure`): Kafka over SASL_SSL (SCRAM-SHA-512),
Elasticsearch and OpenSearch over HTTPS with basic auth, ActiveMQ over STOMP+SSL with a password, every
certificate verified against the stack's CA.

The collector, the converter and the three sinks run as real `spider` processes configured like production: the
reference's es_conf.json (Elasticsearch with a port, OpenSearch behind /os as the reference's code has it, or /es
as its DEPLOYMENT.md says), etc/amq_username and etc/amq_password, secrets in files. Then the three ways a TLS
set-up goes wrong in production (a wrong CA, a wrong password, a host name the certificate does not carry) each
give one line naming the server and the cause while the service keeps retrying with backoff; no secret appears in
any log line or dead letter.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from deploy.demo.processes import free_port, spider_executable
from deploy.local import stack as local_stack
from deploy.local import tls
from deploy.local.config import StackConfig, load_stack_config
from services.common import topics
from services.common.config import ClusterConfig, KafkaSettings
from services.common.search_clients import client

from .activemq import Subscriber
from .kafka_helpers import delete_topics
from .ops_endpoints import scrape, total
from .search_sink_support import cleanup, shards_starting

pytestmark = pytest.mark.integration

ADS = Path(__file__).resolve().parents[2] / "deploy" / "demo" / "ads"
WRONG_HOST = "127.1"  # the resolver's 127.0.0.1, but a name the certificate (127.0.0.1, localhost) does not carry


@dataclass(frozen=True)
class SecureStack:
    cfg: StackConfig
    material: tls.Material

    def port(self, name: str) -> int:
        return self.cfg.port(f"secure_{name}")

    def password(self, server: str) -> str:
        return self.material.secret(f"{server}_password")

    def secrets(self) -> list[str]:
        """Everything that must never be logged: each password and the body of each private key."""
        values = [self.material.secret(name) for name in tls.SECRETS]
        for key in (self.material.server_key, self.material.tls_dir / "ca.key"):
            values += [line for line in key.read_text().splitlines() if line and not line.startswith("-----")]
        return values


@pytest.fixture(scope="module")
def secure(stack) -> SecureStack:
    """The secure stack, in front of the plaintext stack's search servers (brought up first)."""
    cfg = load_stack_config(secure=True)
    failed = [o for o in local_stack.up(cfg) if o.state == "failed"]
    if failed:
        pytest.fail("secure stack is not usable: " + "; ".join(f"{o.name}: {o.detail}" for o in failed))
    return SecureStack(cfg, tls.Material(cfg.state_dir))


@dataclass
class Deployment:
    """One `spider` workdir on the secure stack: spider.toml, reference-format etc/ files, processes and logs."""

    secure: SecureStack
    workdir: Path
    token: str
    clusters: list[dict] = field(default_factory=list)
    kafka_overrides: dict[str, str] = field(default_factory=dict)
    amq_overrides: dict[str, object] = field(default_factory=dict)
    amq_password: str | None = None
    topic_destination: str = ""
    index: str = "cms"
    children: list[subprocess.Popen] = field(default_factory=list)
    metrics_ports: dict[str, int] = field(default_factory=dict)

    @property
    def kafka_values(self) -> dict[str, str]:
        s = self.secure
        return {
            "bootstrap_servers": f"{s.cfg.host}:{s.port('kafka')}",
            "topic_prefix": f"t-{self.token}.",
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": tls.USER,
            "sasl_password_file": str(s.material.secret_file("kafka_password")),
            "ssl_ca_location": str(s.material.ca_cert),
            **self.kafka_overrides,
        }

    @property
    def kafka(self) -> KafkaSettings:
        return KafkaSettings(**self.kafka_values)

    @property
    def index_template(self) -> str:
        return f"t-{self.token}-{self.index}"

    def write(self, group: str) -> None:
        etc = self.workdir / "etc"
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "es_conf.json").write_text(json.dumps(self.clusters, indent=1))
        (etc / "amq_username").write_text(tls.USER + "\n")
        (etc / "amq_password").write_text((self.amq_password or self.secure.password("amq")) + "\n")
        amq = {
            "hosts": [f"{self.secure.cfg.host}:{self.secure.port('stomp')}"],
            "tls": True,
            "ca_certs": str(self.secure.material.ca_cert),
            "topic": self.topic_destination,
            **self.amq_overrides,
        }
        kafka = "\n".join(f"{k} = {json.dumps(v)}" for k, v in self.kafka_values.items())
        amq_lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in amq.items())
        (self.workdir / "spider.toml").write_text(
            f'workdir = "{self.workdir}"\nlog_format = "json"\n'
            f"[kafka]\n{kafka}\n"
            f'[converter]\ngroup_id = "t-{self.token}-converter"\ncommit_interval_s = 0.5\n'
            f'[sinks]\nconsumer_group_prefix = "t-{self.token}-{group}"\nindex_template = "{self.index_template}"\n'
            "number_of_replicas = 0\nlinger_s = 0.2\nbackoff_base_s = 0.5\nbackoff_max_s = 4.0\n"
            f"[sinks.amq]\n{amq_lines}\n"
        )

    def env(self, metrics_port: int | None = None) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("SPIDER_")}
        extra = {"SPIDER_METRICS_PORT": str(metrics_port)} if metrics_port else {}
        return {**inherited, "SPIDER_CONFIG": str(self.workdir / "spider.toml"), **extra}

    def run(self, *args: str, ok: tuple[int, ...] = (0,)) -> None:
        log = self.workdir / f"{args[0]}-{len(list(self.workdir.glob('*.log')))}.log"
        with log.open("wb") as out:
            done = subprocess.run([spider_executable(), *args], env=self.env(), stdout=out, stderr=subprocess.STDOUT)
        assert done.returncode in ok, f"spider {' '.join(args)}: exit {done.returncode}\n{log.read_text()[-3000:]}"

    def start(self, name: str, *args: str) -> None:
        """A long-running service logging to <workdir>/<name>.log, with its metrics on a free port."""
        port = self.metrics_ports[name] = free_port()
        with (self.workdir / f"{name}.log").open("ab") as log:
            self.children.append(
                subprocess.Popen([spider_executable(), *args], env=self.env(port), stdout=log, stderr=subprocess.STDOUT)
            )

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def logs(self) -> dict[str, str]:
        return {path.name: path.read_text(errors="replace") for path in sorted(self.workdir.glob("*.log"))}


def reference_cluster(secure: SecureStack, address: str, kind: str, **overrides) -> dict:
    """An es_conf.json entry as the reference writes it: host (with /os or /es for OpenSearch), port, login, CA."""
    return {
        "host": address,
        "port": secure.port(kind),
        "username": tls.USER,
        "password": secure.password("search"),
        "ca_certs": str(secure.material.ca_cert),
        **overrides,
    }


def read_topics(kafka: KafkaSettings, names: tuple[str, ...]) -> list[tuple[bytes | None, bytes]]:
    """(key, value) of every message of the topics `names`, read from the beginning without a consumer group."""
    consumer = Consumer({**kafka.client_config(), "group.id": f"reader-{uuid.uuid4().hex[:8]}"})
    found: list[tuple[bytes | None, bytes]] = []
    for name in names:
        topic = kafka.topic(name)
        for partition in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            consumer.assign([TopicPartition(topic, partition, low)])
            while low < high:
                msg = consumer.poll(5)
                assert msg is not None and msg.error() is None, f"cannot read {topic}:{partition}"
                found.append((msg.key(), msg.value()))
                low = msg.offset() + 1
    consumer.close()
    return found


def indexed_ids(cluster: ClusterConfig, pattern: str) -> set[str]:
    search = client(cluster)
    try:
        search.indices.refresh(index=pattern)
        hits = search.search(index=pattern, body={"size": 10000, "_source": False})["hits"]["hits"]
    except Exception as exc:
        if shards_starting(exc) or getattr(getattr(exc, "meta", None), "status", None) == 404:
            return set()
        raise
    return {hit["_id"] for hit in hits}


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(0.5)


@dataclass
class Pipeline:
    deployment: Deployment
    expected: set[str]
    amq_ids: Callable[[], set[str]]


@pytest.fixture(scope="module")
def pipeline(secure: SecureStack, tmp_path_factory) -> Iterator[Pipeline]:
    """Collector (from the demo's Global pool ads), converter and the three sinks over the secure stack, run until
    every document was delivered."""
    token = uuid.uuid4().hex[:8]
    deployment = Deployment(
        secure,
        tmp_path_factory.mktemp("secure-pipeline"),
        token,
        clusters=[
            reference_cluster(secure, secure.cfg.host, "elasticsearch"),
            reference_cluster(secure, "localhost/os", "opensearch"),
        ],
        topic_destination=f"/topic/t-{token}.cms",
    )
    deployment.write("sink")
    subscriber = Subscriber(
        secure.port("stomp"),
        deployment.topic_destination,
        ca_certs=secure.material.ca_cert,
        login={"username": tls.USER, "passcode": secure.password("amq")},
    )
    try:
        deployment.run("topics", "create")
        deployment.start("converter", "converter")
        for kind in ("es", "opensearch", "amq"):
            deployment.start(f"sink-{kind}", "sink", kind)
        deployment.run("collector", "--from-file", str(ADS / "global-history.ads"), "--pool", "Global", ok=(0, 4))
        deployment.run(
            "collector", "--from-file", str(ADS / "global-queue.ads"), "--source", "queue", "--pool", "Global"
        )
        clusters = [ClusterConfig.from_reference_entry(c) for c in deployment.clusters]
        pattern = f"{deployment.index_template}-*"
        expected: set[str] = set()

        def delivered() -> bool:
            expected.clear()
            documents = read_topics(deployment.kafka, (topics.DOCS_QUEUE, topics.DOCS_HISTORY))
            expected.update(key.decode() for key, _ in documents if key)
            return (
                len(expected) > 150
                and all(indexed_ids(c, pattern) == expected for c in clusters)
                and subscriber.ids() == expected
            )

        wait_for(delivered, 120, "every document in Elasticsearch, OpenSearch and ActiveMQ")
        yield Pipeline(deployment, set(expected), subscriber.ids)
    finally:
        subscriber.close()
        deployment.stop()
        delete_topics(deployment.kafka, [deployment.kafka.topic(spec.name) for spec in topics.TOPICS])
        for entry in deployment.clusters:
            cleanup(client(ClusterConfig.from_reference_entry(entry)), deployment.index_template)


def test_every_document_lands_in_elasticsearch_opensearch_under_os_and_activemq(secure, pipeline):
    clusters = [ClusterConfig.from_reference_entry(c) for c in pipeline.deployment.clusters]
    assert [(c.kind, c.url) for c in clusters] == [
        ("elasticsearch", f"https://{secure.cfg.host}:{secure.port('elasticsearch')}"),
        ("opensearch", f"https://localhost:{secure.port('opensearch')}/os"),
    ]
    pattern = f"{pipeline.deployment.index_template}-*"
    for cluster in clusters:
        assert indexed_ids(cluster, pattern) == pipeline.expected, cluster.url
    assert pipeline.amq_ids() == pipeline.expected


def test_opensearch_behind_the_es_path_of_the_reference_deployment_doc(secure, pipeline, tmp_path):
    deployment = Deployment(
        secure,
        tmp_path,
        pipeline.deployment.token,
        clusters=[reference_cluster(secure, "localhost/es", "opensearch")],
        index="es-path",  # indices of its own: the pipeline's OpenSearch sink filled the others
    )
    deployment.write("sink-es-path")
    (cluster,) = [ClusterConfig.from_reference_entry(c) for c in deployment.clusters]
    assert (cluster.kind, cluster.url) == ("opensearch", f"https://localhost:{secure.port('opensearch')}/es")
    deployment.start("sink-opensearch", "sink", "opensearch")
    pattern = f"{deployment.index_template}-*"
    try:
        wait_for(lambda: indexed_ids(cluster, pattern) == pipeline.expected, 60, "the documents through /es")
    finally:
        deployment.stop()
        cleanup(client(cluster), deployment.index_template)
    assert_no_secrets(secure, deployment.logs())


def assert_no_secrets(secure: SecureStack, texts: dict[str, str]) -> None:
    for name, text in texts.items():
        for secret in secure.secrets():
            assert secret not in text, f"{name} holds a secret of the stack"


def test_no_password_or_private_key_in_any_log_or_dead_letter(secure, pipeline):
    logs = pipeline.deployment.logs()
    assert {"converter.log", "sink-es.log", "sink-opensearch.log", "sink-amq.log"} <= set(logs)
    assert any(name.startswith("collector") for name in logs)
    dead_letters = read_topics(pipeline.deployment.kafka, (topics.DLQ_CONVERTER, topics.DLQ_SINKS))
    assert dead_letters, "the demo's broken ads are dead-lettered"
    letters = {f"dead letter {i}": value.decode(errors="replace") for i, (_, value) in enumerate(dead_letters)}
    assert_no_secrets(secure, logs | letters)


# -- misconfigurations -------------------------------------------------------------------------------------------

# What each server's one line must say, by fault: (Elasticsearch/OpenSearch, ActiveMQ, Kafka)
CAUSES = {
    "wrong CA": ("certificate not trusted", "certificate not trusted", "certificate verify failed"),
    "wrong password": ("authentication refused (HTTP 401)", "CONNECT refused", "SASL authentication error"),
    "wrong host name": (
        "host name not in the server's certificate",
        "host name not in the server's certificate",
        "certificate verify failed",
    ),
}


def misconfigured(secure: SecureStack, pipeline: Pipeline, workdir: Path, fault: str, server: str) -> Deployment:
    """A workdir on the pipeline's topics whose settings for `server` (es, opensearch, amq, kafka) have `fault`."""
    other_ca = tls.make_ca(workdir / "other-ca", "another CA")[0]
    wrong_password = workdir / "wrong-password"
    wrong_password.write_text("not-the-password\n")
    kind = "opensearch" if server == "opensearch" else "elasticsearch"
    path = "/os" if kind == "opensearch" else ""
    host = secure.cfg.host if kind == "elasticsearch" else "localhost/os"
    deployment = Deployment(secure, workdir, pipeline.deployment.token, topic_destination="/topic/t-fault.cms")
    cluster: dict = {}
    if fault == "wrong CA":
        cluster = {"ca_certs": str(other_ca)}
        deployment.amq_overrides = {"ca_certs": str(other_ca)} if server == "amq" else {}
        deployment.kafka_overrides = {"ssl_ca_location": str(other_ca)} if server == "kafka" else {}
    elif fault == "wrong password":
        cluster = {"password": "not-the-password"}
        deployment.amq_password = "not-the-password" if server == "amq" else None
        deployment.kafka_overrides = {"sasl_password_file": str(wrong_password)} if server == "kafka" else {}
    else:
        cluster = {"name": "wrong-host", "host": WRONG_HOST + path}
        deployment.amq_overrides = {"hosts": [f"{WRONG_HOST}:{secure.port('stomp')}"]} if server == "amq" else {}
        port = secure.port("kafka")
        deployment.kafka_overrides = {"bootstrap_servers": f"{WRONG_HOST}:{port}"} if server == "kafka" else {}
    faulty_cluster = server in ("es", "opensearch")
    deployment.clusters = [reference_cluster(secure, host, kind, **(cluster if faulty_cluster else {}))]
    deployment.write(f"fault-{fault.replace(' ', '-')}-{server}")  # a group of its own: no rebalances between faults
    return deployment


def lines_with(log: str, *words: str) -> list[str]:
    return [line for line in log.splitlines() if all(word in line for word in words)]


def fastest_repeat_s(log: str) -> float:
    """The shortest time between two warning or error lines of the same text (digits aside): a line per attempt
    shows as repeats within seconds."""
    last: dict[str, float] = {}
    fastest = math.inf
    for line in log.splitlines():
        record = json.loads(line) if line.startswith("{") else {}
        if record.get("level") not in ("warning", "error", "critical"):
            continue
        text = re.sub(r"\d+", "N", record["msg"])
        at = datetime.fromisoformat(record["ts"].replace("Z", "+00:00")).timestamp()
        fastest = min(fastest, at - last.get(text, -math.inf))
        last[text] = at
    return fastest


def retries(port: int) -> int:
    """spider_sink_retries of the ActiveMQ target, from a sink's /metrics (asked again while it does not answer)."""
    for _ in range(5):
        samples = scrape(port, timeout_s=5)
        if samples:
            return total(samples, "spider_sink_retries_total", target="amq")
        time.sleep(1)
    raise AssertionError(f"no /metrics on port {port}")


@dataclass
class Outcome:
    log: str
    where: str
    cause: str
    alive: bool
    retries: int


@pytest.fixture(scope="module")
def misconfigurations(secure, pipeline, tmp_path_factory) -> dict[tuple[str, str], Outcome]:
    """For each fault, four sinks at once: `sink es` and `sink opensearch` with the fault in their cluster, `sink
    amq` with it in its broker settings, and `sink amq` with it in its Kafka settings; each runs until it reported
    the fault and then a while longer, retrying. Keyed by (fault, server)."""
    base = tmp_path_factory.mktemp("misconfigured")
    runs: dict[tuple[str, str], tuple[Deployment, str, str]] = {}
    for fault, (search_cause, amq_cause, kafka_cause) in CAUSES.items():
        host = WRONG_HOST if fault == "wrong host name" else secure.cfg.host
        servers = {  # server: (sink command, what names the server in the line, the cause)
            "es": ("es", f"https://{host}:{secure.port('elasticsearch')}", search_cause),
            "opensearch": ("opensearch", f":{secure.port('opensearch')}/os", search_cause),
            "amq": ("amq", f"{host}:{secure.port('stomp')}", amq_cause),
            "kafka": ("amq", f"sasl_ssl://{host}:{secure.port('kafka')}", kafka_cause),
        }
        for server, (command, where, cause) in servers.items():
            deployment = misconfigured(secure, pipeline, base / fault.replace(" ", "-") / server, fault, server)
            deployment.start("sink", "sink", command)
            runs[(fault, server)] = (deployment, where, cause)

    def log(key: tuple[str, str]) -> str:
        return runs[key][0].logs().get("sink.log", "")

    try:
        wait_for(lambda: all(lines_with(log(k), where, cause) for k, (_, where, cause) in runs.items()), 90, "reports")
        time.sleep(8)  # several retries with backoff (0.5, 1, 2, 4 s)
        alive = {k: d.children[0].poll() is None for k, (d, _, _) in runs.items()}
        retried = {k: retries(d.metrics_ports["sink"]) for k, (d, _, _) in runs.items() if k[1] == "amq"}
    finally:
        for deployment, _, _ in runs.values():
            deployment.stop()
    return {k: Outcome(log(k), where, cause, alive[k], retried.get(k, 0)) for k, (_, where, cause) in runs.items()}


@pytest.mark.parametrize("server", ["es", "opensearch", "amq", "kafka"])
@pytest.mark.parametrize("fault", list(CAUSES))
def test_misconfiguration_is_one_line_naming_server_and_cause_then_retries(secure, misconfigurations, fault, server):
    outcome = misconfigurations[(fault, server)]
    assert len(lines_with(outcome.log, outcome.where, outcome.cause)) == 1, outcome.log[-3000:]
    assert "Traceback" not in outcome.log
    assert fastest_repeat_s(outcome.log) >= 10, f"a line per attempt:\n{outcome.log[-3000:]}"
    assert outcome.alive, "the sink gave up instead of retrying"
    assert_no_secrets(secure, {"sink.log": outcome.log})


@pytest.mark.parametrize("fault", list(CAUSES))
def test_broker_misconfiguration_is_retried_with_backoff_not_in_a_storm(misconfigurations, fault):
    retries = misconfigurations[(fault, "amq")].retries
    assert 2 <= retries <= 15, f"ActiveMQ writes retried {retries} times in ~10 s"
