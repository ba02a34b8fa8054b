"""Sink settings (Elasticsearch, OpenSearch, ActiveMQ): batching, concurrency, retries, indices, dead letters."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from services.common.config import ClusterConfig, SpiderSettings, load_es_clusters
from services.common.topics import DLQ_SINKS, DOCS_HISTORY, DOCS_QUEUE


class AmqSettings(BaseModel):
    """ActiveMQ (CERN MONIT) target; credentials come from amq_username_file / amq_password_file."""

    hosts: list[str] = Field(["127.0.0.1:61613"], description="Brokers as host:port, tried in order (failover)")
    topic: str = Field("/topic/cms.jobmon.condor", description="STOMP destination of the notifications")
    producer: str = Field("condor", description="MONIT producer name (metadata.producer and the producer header)")
    version: str | None = Field(None, description="Value of the version header; the spider version if unset")
    tls: bool = Field(False, description="Connect with TLS")
    ca_certs: Path | None = Field(None, description="CA bundle to verify the broker (TLS)")
    client_cert: Path | None = Field(None, description="Client certificate (TLS), optional")
    client_key: Path | None = Field(None, description="Key of the client certificate (TLS), optional")
    connect_timeout_s: float = Field(10.0, gt=0, description="Time to get CONNECTED from one broker")
    receipt_timeout_s: float = Field(60.0, gt=0, description="Time for the broker to confirm every SEND of a batch")
    heartbeat_ms: int = Field(10000, ge=0, description="STOMP heart-beat in both directions; 0 disables")
    validation: Literal["warn", "drop", "dead-letter"] = Field(
        "warn",
        description="Body fields whose type differs from schemas/monit.v1.schema.json: log and send as is (warn), "
        "send without them (drop), or dead-letter the document",
    )


# What `spider sink KIND` accepts; services/sinks/command.py has a target factory for each.
SinkKind = Literal["es", "opensearch", "amq"]


class SinkConfig(SpiderSettings):
    section = "sinks"

    es_conf_file: Path = Field(
        Path("etc/es_conf.json"), description="Search clusters (Elasticsearch/OpenSearch) that receive documents"
    )
    amq_username_file: Path = Field(Path("etc/amq_username"), description="File holding the ActiveMQ user name")
    amq_password_file: Path = Field(Path("etc/amq_password"), description="File holding the ActiveMQ password")

    batch_size: int = Field(2000, ge=1, description="Documents per bulk request at most")
    batch_bytes: int = Field(8 * 1024 * 1024, ge=1024, description="Bytes of documents per bulk request at most")
    linger_s: float = Field(0.5, ge=0, description="Send a partial batch once its first document waited this long")
    max_in_flight: int = Field(2, ge=1, description="Batches being written concurrently per target")
    backoff_base_s: float = Field(
        0.5, gt=0, description="First retry delay while a target is unavailable (ActiveMQ: before reconnecting)"
    )
    backoff_max_s: float = Field(30.0, gt=0, description="Retry delay cap; retries go on without a time limit")
    request_timeout_s: float = Field(120.0, gt=0, description="Timeout of one bulk request")
    session_timeout_s: float = Field(
        10.0, ge=6, description="Kafka group session timeout: how soon a crashed sink's partitions move on"
    )
    consumer_group_prefix: str = Field("spider-sink", description="Consumer group: <prefix>-<target name>")
    topics: list[str] = Field([DOCS_QUEUE, DOCS_HISTORY], description="Document topics to consume (before the prefix)")
    dlq_topic: str = Field(DLQ_SINKS, description="Dead-letter topic (before the prefix)")
    dlq_policy: Literal["dead-letter", "log"] = Field(
        "dead-letter",
        description="Rejected or undecodable documents: write a dead-letter record, or only log and count them",
    )
    index_template: str = Field("cms", description="Daily indices are <index_template>-YYYY-MM-DD")
    queue_index_template: str | None = Field(
        None, description="If set, queue documents (source condor_queue) go to <queue_index_template>-YYYY-MM-DD"
    )
    template_priority: int = Field(200, description="Priority of the installed composable index templates")
    number_of_shards: int | None = Field(None, ge=1, description="Shards per daily index; cluster default if unset")
    number_of_replicas: int | None = Field(None, ge=0, description="Replicas per daily index; cluster default if unset")
    amq: AmqSettings = AmqSettings()

    def es_clusters(self) -> list[ClusterConfig]:
        return load_es_clusters(self.resolve(self.es_conf_file))
