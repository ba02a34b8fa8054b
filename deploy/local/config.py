"""Where the local stack lives and listens.

Every value comes from a default, the environment (SPIDER_STACK_*) or a CLI flag, in that order of precedence.
The state directory (pid files, data, logs, generated server configs) defaults to `.stack/` in the current
directory, so each checkout has its own stack; downloads are shared between checkouts in the cache directory.
Every port is its setting plus `port_offset`, so a second stack (CI in a clone, the up/down test) can run
beside the default one by setting SPIDER_STACK_PORT_OFFSET alone.

`secure` selects the secure stack instead (`spider stack up --secure`): its own Kafka (SASL_SSL, SCRAM-SHA-512)
and ActiveMQ (STOMP over TLS, password) on the `secure_*` ports, and a TLS proxy with basic auth in front of the
same Elasticsearch and OpenSearch as the plaintext stack (reused when they already run). Its state lives in
`<dir>/secure`, so both stacks can run side by side.

`kafka_brokers` above 1 selects a replicated Kafka instead (`spider stack up --kafka-brokers 3`): that many KRaft
nodes (broker and controller each) on the `cluster_kafka_*` ports, one port per node, with small heaps; the
other servers are those of the plaintext stack (reused when they run). Its state lives in `<dir>/kafka-<n>`, so
it never touches the single broker of the plaintext stack.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.errors import ConfigError

KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.24.3"
OPENSEARCH_VERSION = "2.19.1"
ELASTICSEARCH_VERSION = "8.19.3"
SERVERS = ("kafka", "activemq", "opensearch", "elasticsearch")
SECURE_SERVERS = (*SERVERS, "proxy")


def _default_cache_dir() -> Path:
    """root's home is not readable by the unprivileged user that runs the search servers, so root caches in /var."""
    if os.geteuid() == 0:
        return Path("/var/cache/spider-stack")
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "spider-stack"


class StackConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPIDER_STACK_", extra="forbid")

    dir: Path = Field(Path(".stack"), description="State directory: pid files, data, logs")
    cache_dir: Path = Field(default_factory=_default_cache_dir, description="Downloaded and unpacked servers")
    host: str = "127.0.0.1"
    port_offset: int = 0
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    elasticsearch_port: int = 9200
    opensearch_port: int = 9201
    stomp_port: int = 61613
    openwire_port: int = Field(0, description="ActiveMQ OpenWire port; 0 disables it")
    secure: bool = Field(False, description="The secure stack: TLS and authentication on every client port")
    secure_kafka_port: int = Field(9094, description="Kafka SASL_SSL listener of the secure stack")
    secure_kafka_controller_port: int = 9095
    secure_elasticsearch_port: int = Field(9243, description="HTTPS proxy in front of Elasticsearch")
    secure_opensearch_port: int = Field(9244, description="HTTPS proxy in front of OpenSearch (also under /os, /es)")
    secure_stomp_port: int = Field(61612, description="ActiveMQ stomp+ssl connector of the secure stack")
    kafka_brokers: int = Field(1, ge=1, le=9, description="Kafka nodes; above 1, a replicated cluster (own state)")
    cluster_kafka_port: int = Field(9192, description="First broker port of a replicated Kafka (node n: + n - 1)")
    cluster_kafka_controller_port: int = Field(9292, description="First controller port of a replicated Kafka")
    cluster_heap: str = Field("256m", description="Heap of each node of a replicated Kafka")
    java_home: Path = Path("/usr/lib/jvm/java-17-openjdk-amd64")
    activemq_home: Path = Path("/usr/share/activemq")
    run_user: str = Field("nobody", description="Search servers refuse root; when root, they run as this user")
    heap: str = "512m"
    start_timeout: float = Field(180.0, description="Seconds to wait for a server to become healthy")

    def port(self, name: str) -> int:
        """An effective port: the setting plus the offset (0 stays 0: disabled)."""
        value = getattr(self, f"{name}_port")
        return value + self.port_offset if value else 0

    @property
    def replicated(self) -> bool:
        return self.kafka_brokers > 1

    @property
    def state_dir(self) -> Path:
        if self.secure:
            return self.dir.absolute() / "secure"
        return self.dir.absolute() / f"kafka-{self.kafka_brokers}" if self.replicated else self.dir.absolute()

    @property
    def brokers(self) -> tuple[str, ...]:
        """The Kafka servers: `kafka`, or `kafka-1` ... `kafka-<n>` of a replicated cluster."""
        return tuple(f"kafka-{n}" for n in range(1, self.kafka_brokers + 1)) if self.replicated else ("kafka",)

    @property
    def servers(self) -> tuple[str, ...]:
        if self.secure:
            return SECURE_SERVERS
        return (*self.brokers, *SERVERS[1:]) if self.replicated else SERVERS

    def broker_port(self, node: int, controller: bool = False) -> int:
        """Port of node `node` (from 1) of a replicated Kafka."""
        return self.port("cluster_kafka_controller" if controller else "cluster_kafka") + node - 1

    def endpoints(self) -> dict[str, str]:
        h = self.host
        if self.secure:
            return {
                "kafka": f"{h}:{self.port('secure_kafka')}",
                "activemq": f"{h}:{self.port('secure_stomp')}",
                "opensearch": f"https://{h}:{self.port('secure_opensearch')}",
                "elasticsearch": f"https://{h}:{self.port('secure_elasticsearch')}",
            }
        kafka = [f"{h}:{self.broker_port(n)}" for n in range(1, self.kafka_brokers + 1)]
        return {
            "kafka": ",".join(kafka) if self.replicated else f"{h}:{self.port('kafka')}",
            "activemq": f"{h}:{self.port('stomp')}",
            "opensearch": f"http://{h}:{self.port('opensearch')}",
            "elasticsearch": f"http://{h}:{self.port('elasticsearch')}",
        }


def load_stack_config(**cli: Any) -> StackConfig:
    """Defaults < SPIDER_STACK_* < CLI flags (flags left at None do not override)."""
    cfg = StackConfig(**{k: v for k, v in cli.items() if v is not None})
    if cfg.secure and cfg.replicated:
        raise ConfigError("the secure stack has one Kafka broker; --secure and --kafka-brokers exclude each other")
    return cfg
