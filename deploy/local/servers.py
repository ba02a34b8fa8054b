"""The four servers of the local stack: how each is prepared, launched and probed.

Every server keeps its generated config, data and log under `<state dir>/<name>/`; binaries stay in the
shared cache. Elasticsearch and OpenSearch refuse to run as root, so under root they run as `run_user` and
their own directories are handed to that user.
"""

from __future__ import annotations

import abc
import base64
import contextlib
import grp
import os
import pwd
import shutil
import ssl
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from deploy.local import artifacts, health, tls
from deploy.local.config import ELASTICSEARCH_VERSION, OPENSEARCH_VERSION, StackConfig
from services.common.errors import SpiderError


@dataclass
class Server(abc.ABC):
    """Base: directories, pid file and log of one server; subclasses say how to run and probe it."""

    cfg: StackConfig
    name = ""

    @property
    def dir(self) -> Path:
        return self.cfg.state_dir / self.name

    @property
    def log(self) -> Path:
        return self.dir / "server.log"

    @property
    def pid_file(self) -> Path:
        return self.dir / "pid"

    @property
    def user(self) -> str | None:
        return None

    @abc.abstractmethod
    def ports(self) -> list[int]: ...

    @abc.abstractmethod
    def listens(self) -> str: ...

    @abc.abstractmethod
    def probe(self) -> tuple[bool, str]: ...

    @abc.abstractmethod
    def prepare_binaries(self) -> None:
        """Resolve, cache and verify what the server runs from."""
        ...

    @abc.abstractmethod
    def prepare(self) -> None:
        """Binaries, then configuration (and storage) in the state dir; everything here is idempotent."""
        ...

    @abc.abstractmethod
    def command(self) -> list[str]: ...

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    @property
    def java(self) -> str:
        return str(self.cfg.java_home / "bin" / "java")

    def _resource(self, name: str) -> str:
        return resources.files("deploy.local").joinpath(name).read_text()

    def _hand_over(self, paths: list[Path], user: str) -> None:
        """Give `paths` to the unprivileged `user`, who must be able to walk down to them (not so under /root)."""
        for parent in [*reversed(self.dir.parents)]:
            if not parent.stat().st_mode & 0o001:
                raise SpiderError(
                    f"{self.name} runs as {user!r}, who cannot enter {parent}; "
                    f"set SPIDER_STACK_DIR to a directory it can reach, e.g. /var/tmp/spider-stack"
                )
        for path in paths:
            shutil.chown(path, user, pwd.getpwnam(user).pw_gid)


class Kafka(Server):
    """Kafka in KRaft combined mode (broker and controller in one JVM), topics never auto-created."""

    name = "kafka"

    def ports(self) -> list[int]:
        return [self.cfg.port("kafka"), self.cfg.port("kafka_controller")]

    def listens(self) -> str:
        return f"{self.cfg.host}:{self.cfg.port('kafka')} (controller {self.cfg.port('kafka_controller')})"

    def probe(self) -> tuple[bool, str]:
        return health.kafka(f"{self.cfg.host}:{self.cfg.port('kafka')}")

    def listener_settings(self) -> dict[str, str]:
        host, port = self.cfg.host, self.cfg.port("kafka")
        return {
            "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{self.ports()[1]}",
            "advertised.listeners": f"PLAINTEXT://{host}:{port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        }

    def format_args(self) -> list[str]:
        """Extra arguments of the storage format (SCRAM users of the secure broker)."""
        return []

    def node_settings(self) -> dict[str, str]:
        """Who this node is, its quorum and how its internal topics replicate: one node holding everything."""
        return {
            "node.id": "1",
            "controller.quorum.voters": f"1@{self.cfg.host}:{self.ports()[1]}",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
        }

    def properties(self) -> str:
        settings = {
            "process.roles": "broker,controller",
            "controller.listener.names": "CONTROLLER",
            **self.node_settings(),
            **self.listener_settings(),
            "log.dirs": str(self.dir / "data"),
            "auto.create.topics.enable": "false",
            "num.partitions": "1",
            "group.initial.rebalance.delay.ms": "0",
        }
        return "".join(f"{k}={v}\n" for k, v in settings.items())

    @property
    def heap(self) -> str:
        return self.cfg.heap

    def cluster_id(self) -> str:
        """A new id for this node's storage (every node of a cluster formats with the same one)."""
        return base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()

    def _java(self, main: str, *args: str) -> list[str]:
        return [
            self.java, f"-Xmx{self.heap}", "-Xms128m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.dir / 'log4j2.properties'}",
            "-cp", str(self.libs / "*"), main, *args,
        ]  # fmt: skip

    def prepare_binaries(self) -> None:
        self.libs = artifacts.kafka_classpath(self.cfg.cache_dir)

    def prepare(self) -> None:
        self.prepare_binaries()
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "server.properties").write_text(self.properties())
        (self.dir / "log4j2.properties").write_text(self._resource("log4j2.properties"))
        if not (self.dir / "data" / "meta.properties").exists():
            cmd = self._java(
                "kafka.tools.StorageTool", "format", f"--cluster-id={self.cluster_id()}",  # an id may begin with "-"
                "-c", str(self.dir / "server.properties"), *self.format_args(),
            )  # fmt: skip
            result = subprocess.run(cmd, capture_output=True, text=True)
            if result.returncode != 0:
                raise artifacts.ArtifactError(f"formatting Kafka storage failed: {result.stdout}{result.stderr}")

    def command(self) -> list[str]:
        return self._java("kafka.Kafka", str(self.dir / "server.properties"))


class ClusterKafka(Kafka):
    """One node (broker and controller) of a replicated KRaft cluster: its own ports, data and log; every node votes
    in the quorum, and Kafka's internal topics have three replicas, two of them in sync (as in production)."""

    def __init__(self, cfg: StackConfig, node: int) -> None:
        super().__init__(cfg)
        self.node = node
        self.name = f"kafka-{node}"

    def ports(self) -> list[int]:
        return [self.cfg.broker_port(self.node), self.cfg.broker_port(self.node, controller=True)]

    def listens(self) -> str:
        return f"{self.cfg.host}:{self.ports()[0]} (controller {self.ports()[1]}, node {self.node})"

    def probe(self) -> tuple[bool, str]:
        return health.kafka(f"{self.cfg.host}:{self.ports()[0]}")

    def listener_settings(self) -> dict[str, str]:
        host, (port, controller) = self.cfg.host, self.ports()
        return super().listener_settings() | {
            "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller}",
            "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        }

    def node_settings(self) -> dict[str, str]:
        nodes = range(1, self.cfg.kafka_brokers + 1)
        voters = ",".join(f"{n}@{self.cfg.host}:{self.cfg.broker_port(n, controller=True)}" for n in nodes)
        replicas, in_sync = str(min(3, self.cfg.kafka_brokers)), str(min(2, self.cfg.kafka_brokers))
        return {
            "node.id": str(self.node),
            "controller.quorum.voters": voters,
            "offsets.topic.replication.factor": replicas,
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": in_sync,
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": in_sync,
            "default.replication.factor": replicas,
            "min.insync.replicas": in_sync,
            # the compaction buffer (128 MB by default) must fit the small heap, with room for the rest
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
        }

    @property
    def heap(self) -> str:
        return self.cfg.cluster_heap

    def cluster_id(self) -> str:
        """The cluster's id, made by the first node that formats its storage and read by the others."""
        path = self.cfg.state_dir / "kafka-cluster-id"
        if not path.exists():
            draft = path.with_name(f"{path.name}.{self.node}")
            draft.write_text(super().cluster_id())
            with contextlib.suppress(FileExistsError):  # another node was first: its id counts
                os.link(draft, path)
            draft.unlink()
        return path.read_text()


class ActiveMQ(Server):
    """ActiveMQ 5 from the Debian package, run in the foreground on the stack's own instance directory."""

    name = "activemq"

    def ports(self) -> list[int]:
        return [p for p in (self.cfg.port("stomp"), self.cfg.port("openwire")) if p]

    def listens(self) -> str:
        openwire = f" (openwire {self.cfg.port('openwire')})" if self.cfg.port("openwire") else ""
        return f"stomp://{self.cfg.host}:{self.cfg.port('stomp')}{openwire}"

    def probe(self) -> tuple[bool, str]:
        return health.stomp_broker(self.cfg.host, self.cfg.port("stomp"))

    def prepare_binaries(self) -> None:
        jar = self.cfg.activemq_home / "bin" / "activemq.jar"
        if not jar.is_file():
            raise artifacts.ArtifactError(
                f"ActiveMQ not found ({jar} is missing); install it with: apt-get update && apt-get install -y activemq"
            )

    def prepare(self) -> None:
        self.prepare_binaries()
        conf = self.dir / "conf"
        for sub in ("conf", "data", "tmp"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        xml = self._resource("activemq.xml.template").format(
            data_dir=self.dir / "data", connectors="\n".join(self.connectors()), security=self.security()
        )
        (conf / "activemq.xml").write_text(xml)
        (conf / "log4j.properties").write_text(self._resource("activemq-log4j.properties"))

    def connectors(self) -> list[str]:
        connectors = [
            f'      <transportConnector name="stomp" uri="stomp://{self.cfg.host}:{self.cfg.port("stomp")}"/>'
        ]
        if self.cfg.port("openwire"):
            connectors.append(
                f'      <transportConnector name="openwire" uri="tcp://{self.cfg.host}:{self.cfg.port("openwire")}"/>'
            )
        return connectors

    def security(self) -> str:
        """Broker elements for TLS and authentication; none in the plaintext stack."""
        return ""

    def command(self) -> list[str]:
        home, base = self.cfg.activemq_home, self.dir
        return [
            self.java, "-Xms64m", f"-Xmx{self.cfg.heap}", "-Djava.awt.headless=true",
            f"-Dactivemq.home={home}", f"-Dactivemq.base={base}", f"-Dactivemq.conf={base / 'conf'}",
            f"-Dactivemq.data={base / 'data'}", f"-Djava.io.tmpdir={base / 'tmp'}",
            f"-Dlog4j.configuration=file:{base / 'conf' / 'log4j.properties'}",
            "-jar", str(home / "bin" / "activemq.jar"), "start", f"xbean:file:{base / 'conf' / 'activemq.xml'}",
        ]  # fmt: skip


class SearchServer(Server):
    """Elasticsearch or OpenSearch from its integ-test zip: no bundled JDK, no plugins, single node."""

    group = ""
    version = ""
    distribution_name = ""
    env_prefix = ""

    @property
    def user(self) -> str | None:
        return self.cfg.run_user if os.geteuid() == 0 else None

    def ports(self) -> list[int]:
        return [self.cfg.port(self.name), self.transport_port]

    @property
    def transport_port(self) -> int:
        return self.cfg.port(self.name) + 100

    @property
    def url(self) -> str:
        return f"http://{self.cfg.host}:{self.cfg.port(self.name)}"

    def listens(self) -> str:
        return f"{self.url} (transport {self.transport_port})"

    def probe(self) -> tuple[bool, str]:
        return health.search(self.url, self.distribution_name)

    def settings(self) -> dict[str, str]:
        return {
            "cluster.name": f"spider-{self.name}",
            "node.name": f"spider-{self.name}",
            "network.host": self.cfg.host,
            "http.port": str(self.cfg.port(self.name)),
            "transport.port": str(self.transport_port),
            "discovery.type": "single-node",
            "path.data": str(self.dir / "data"),
            "path.logs": str(self.dir / "logs"),
            "cluster.routing.allocation.disk.threshold_enabled": "false",
            "action.destructive_requires_name": "false",
        }

    def prepare_binaries(self) -> None:
        self.home = artifacts.distribution(self.cfg.cache_dir, self.group, self.name, self.version)

    def prepare(self) -> None:
        self.prepare_binaries()
        conf = self.dir / "config"
        if not conf.exists():
            shutil.copytree(self.home / "config", conf)
            options = conf / "jvm.options"
            options.write_text(self._jvm_options(options.read_text()))
        for sub in ("data", "logs"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        if self.user:
            self._hand_over([self.dir, *self.dir.rglob("*")], self.user)
            self.log.touch()

    def _jvm_options(self, text: str) -> str:
        """Drop GC file logging and point dump files at our logs: the defaults are relative to the install dir."""
        logs = self.dir / "logs"
        lines = []
        for line in text.splitlines():
            if "gc.log" in line:
                continue
            line = line.replace("-XX:HeapDumpPath=data", f"-XX:HeapDumpPath={logs}")
            line = line.replace("-XX:ErrorFile=logs/", f"-XX:ErrorFile={logs}/")
            lines.append(line)
        return "\n".join(lines) + "\n"

    def command(self) -> list[str]:
        launcher = self.home / "bin" / self.name
        return [str(launcher), *(f"-E{k}={v}" for k, v in self.settings().items())]

    def env(self) -> dict[str, str]:
        env = super().env()
        env.pop("JAVA_HOME", None)
        env[f"{self.env_prefix}_JAVA_HOME"] = str(self.cfg.java_home)
        env[f"{self.env_prefix}_PATH_CONF"] = str(self.dir / "config")
        env[f"{self.env_prefix}_JAVA_OPTS"] = f"-Xms{self.cfg.heap} -Xmx{self.cfg.heap}"
        return env


class OpenSearch(SearchServer):
    name = "opensearch"
    group = "org.opensearch.distribution.integ-test-zip"
    version = OPENSEARCH_VERSION
    distribution_name = "opensearch"
    env_prefix = "OPENSEARCH"


class Elasticsearch(SearchServer):
    name = "elasticsearch"
    group = "org.elasticsearch.distribution.integ-test-zip"
    version = ELASTICSEARCH_VERSION
    distribution_name = "elasticsearch"
    env_prefix = "ES"

    def settings(self) -> dict[str, str]:
        return super().settings() | {"xpack.security.enabled": "false"}


class SecureKafka(Kafka):
    """The secure stack's Kafka: one SASL_SSL listener (SCRAM-SHA-512, TLS) for clients and between brokers.

    The SCRAM users (the client user and the broker's own) are written into the storage when it is formatted;
    only the controller listener, internal to this one process, stays in plaintext.
    """

    def ports(self) -> list[int]:
        return [self.cfg.port("secure_kafka"), self.cfg.port("secure_kafka_controller")]

    def listens(self) -> str:
        return f"sasl_ssl://{self.cfg.host}:{self.ports()[0]} (SCRAM-SHA-512; controller {self.ports()[1]})"

    def probe(self) -> tuple[bool, str]:
        return probe_secure(self.cfg, lambda login: health.kafka(f"{self.cfg.host}:{self.ports()[0]}", login["kafka"]))

    def listener_settings(self) -> dict[str, str]:
        host, port, material = self.cfg.host, self.ports()[0], tls.Material(self.cfg.state_dir)
        keystore_password = material.secret("keystore_password")
        jaas = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="{}";'
        return {
            "listeners": f"SASL_SSL://{host}:{port},CONTROLLER://{host}:{self.ports()[1]}",
            "advertised.listeners": f"SASL_SSL://{host}:{port}",
            "inter.broker.listener.name": "SASL_SSL",
            "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": jaas.format(
                material.secret("kafka_broker_password")
            ),
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(material.keystore),
            "ssl.keystore.password": keystore_password,
            "ssl.key.password": keystore_password,
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(material.ca_cert),
        }

    def format_args(self) -> list[str]:
        material = tls.Material(self.cfg.state_dir)
        users = {"broker": "kafka_broker_password", tls.USER: "kafka_password"}
        args = []
        for user, secret in users.items():
            args += ["--add-scram", f"SCRAM-SHA-512=[name={user},password={material.secret(secret)}]"]
        return args

    def prepare(self) -> None:
        super().prepare()
        (self.dir / "server.properties").chmod(0o600)


class SecureActiveMQ(ActiveMQ):
    """The secure stack's ActiveMQ: a stomp+ssl connector only, and a user with a password (no anonymous access)."""

    def ports(self) -> list[int]:
        return [self.cfg.port("secure_stomp")]

    def listens(self) -> str:
        return f"stomp+ssl://{self.cfg.host}:{self.ports()[0]}"

    def probe(self) -> tuple[bool, str]:
        return probe_secure(
            self.cfg, lambda login: health.stomp_broker(self.cfg.host, self.ports()[0], **login["stomp"])
        )

    def connectors(self) -> list[str]:
        return [f'      <transportConnector name="stomp+ssl" uri="stomp+ssl://{self.cfg.host}:{self.ports()[0]}"/>']

    def security(self) -> str:
        material = tls.Material(self.cfg.state_dir)
        return self._resource("activemq-security.xml.template").format(
            keystore=material.keystore,
            keystore_password=material.secret("keystore_password"),
            username=tls.USER,
            password=material.secret("amq_password"),
        )

    def prepare(self) -> None:
        super().prepare()
        (self.dir / "conf" / "activemq.xml").chmod(0o600)


class TlsProxy(Server):
    """nginx terminating TLS with basic auth in front of Elasticsearch and OpenSearch (whose integ-test builds have
    no security plugin). OpenSearch also answers under /os/ and /es/, the reference's paths of an OpenSearch host."""

    name = "proxy"

    def ports(self) -> list[int]:
        return [self.cfg.port("secure_elasticsearch"), self.cfg.port("secure_opensearch")]

    def listens(self) -> str:
        h = self.cfg.host
        return f"https://{h}:{self.ports()[0]} -> elasticsearch, https://{h}:{self.ports()[1]}(/os, /es) -> opensearch"

    def probe(self) -> tuple[bool, str]:
        return probe_secure(self.cfg, self._probe)

    def _probe(self, login: dict[str, dict]) -> tuple[bool, str]:
        settings = login["search"]
        endpoints = self.cfg.endpoints()
        details = []
        for kind, url in (
            ("elasticsearch", endpoints["elasticsearch"]),
            ("opensearch", endpoints["opensearch"] + "/os"),
        ):
            healthy, detail = health.search(url, kind, **settings)
            if not healthy:
                return False, f"{url}: {detail}"
            details.append(detail)
        return True, "; ".join(details)

    @property
    def nginx(self) -> str:
        return shutil.which("nginx") or "/usr/sbin/nginx"

    def prepare_binaries(self) -> None:
        if not Path(self.nginx).is_file():
            raise artifacts.ArtifactError(
                "nginx not found; install it with: apt-get update && apt-get install -y nginx"
            )

    def prepare(self) -> None:
        self.prepare_binaries()
        material = tls.Material(self.cfg.state_dir)
        temp = self.dir / "tmp"
        temp.mkdir(parents=True, exist_ok=True)
        htpasswd = self.dir / "htpasswd"
        hashed = subprocess.run(
            ["openssl", "passwd", "-6", "-stdin"], input=material.secret("search_password"),
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        htpasswd.write_text(f"{tls.USER}:{hashed}\n")
        htpasswd.chmod(0o400)
        worker = ""
        if os.geteuid() == 0:  # the master (root) reads the key; workers run unprivileged and read the htpasswd
            user = self.cfg.run_user
            self._hand_over([temp, htpasswd], user)
            worker = f"user {user} {grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name};"
        conf = self._resource("nginx.conf.template").format(
            worker=worker, dir=self.dir, temp=temp, htpasswd=htpasswd, host=self.cfg.host,
            cert=material.server_cert, key=material.server_key,
            es_port=self.ports()[0], os_port=self.ports()[1],
            es_backend=self.cfg.port("elasticsearch"), os_backend=self.cfg.port("opensearch"),
        )  # fmt: skip
        (self.dir / "nginx.conf").write_text(conf)

    def command(self) -> list[str]:
        return [self.nginx, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"), "-e", "stderr"]


def probe_secure(cfg: StackConfig, probe: Callable[[dict[str, dict]], tuple[bool, str]]) -> tuple[bool, str]:
    """Run `probe` with the stack's client logins; unhealthy, not an error, before the stack made them."""
    if not tls.Material(cfg.state_dir).ca_cert.exists():
        return False, f"no secure stack credentials in {cfg.state_dir}"
    return probe(client_settings(cfg))


def client_settings(cfg: StackConfig) -> dict[str, dict]:
    """How a client logs in to the secure stack: librdkafka settings, the search and STOMP probes' arguments."""
    material = tls.Material(cfg.state_dir)
    user = tls.USER
    context = ssl.create_default_context(cafile=str(material.ca_cert))
    return {
        "kafka": {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": user,
            "sasl.password": material.secret("kafka_password"),
            "ssl.ca.location": str(material.ca_cert),
        },
        "search": {"context": context, "auth": (user, material.secret("search_password"))},
        "stomp": {"ca_certs": str(material.ca_cert), "login": (user, material.secret("amq_password"))},
    }


def all_servers(cfg: StackConfig) -> dict[str, Server]:
    if cfg.secure:
        classes: tuple[type[Server], ...] = (SecureKafka, SecureActiveMQ, OpenSearch, Elasticsearch, TlsProxy)
    else:
        classes = (Kafka, ActiveMQ, OpenSearch, Elasticsearch)
    servers = {cls.name: cls(cfg) for cls in classes}
    if cfg.replicated:
        del servers["kafka"]
        servers = {f"kafka-{n}": ClusterKafka(cfg, n) for n in range(1, cfg.kafka_brokers + 1)} | servers
    return servers
