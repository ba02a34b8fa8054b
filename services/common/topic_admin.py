"""`spider topics create`: every topic of services/common/topics.py, with its settings, under the prefix.

Idempotent: a topic that already exists is reported as such and left as it is, except for a message size limit
(`max.message.bytes`) other than the configured one, which is changed (and reported) so that an upgrade that
raises the limits takes effect without re-creating topics. A second run changes nothing.

It first waits (bounded) until Kafka is ready (a broker and a group coordinator answer), and serves the admin
client while it waits, so that librdkafka's reasons (a refused connection, a failed login) are logged at once.
Replication factor and `min.insync.replicas` default to `kafka.replication_factor` and
`kafka.min_insync_replicas`, so every service that creates topics gives them the same durability.
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

from services.common import kafka as kafka_clients
from services.common.config import KafkaSettings
from services.common.errors import SpiderError
from services.common.topics import TopicSpec


@dataclass(frozen=True)
class TopicOutcome:
    name: str
    created: bool
    detail: str


def create_topics(
    kafka: KafkaSettings,
    *,
    partitions: int | None = None,
    replication: int | None = None,
    min_insync_replicas: int | None = None,
    specs: tuple[TopicSpec, ...] | None = None,
    timeout_s: float = 30.0,
) -> list[TopicOutcome]:
    """Create the topics; `partitions` overrides every spec's count except single-partition (ordered) ones.

    Without `specs`, every pipeline topic with the retention configured in `kafka.retention`."""
    specs = kafka.topic_specs() if specs is None else specs
    replication = kafka.replication_factor if replication is None else replication
    min_insync = kafka.min_insync_replicas if min_insync_replicas is None else min_insync_replicas
    durability = {} if min_insync is None else {"min.insync.replicas": str(min_insync)}
    admin = kafka_clients.admin(kafka)
    kafka_clients.ready(admin, kafka, max(timeout_s, 60.0))
    new = [
        NewTopic(
            kafka.topic(spec.name),
            num_partitions=spec.partitions if partitions is None or spec.partitions == 1 else partitions,
            replication_factor=replication,
            config=spec.kafka_config() | durability,
        )
        for spec in specs
    ]
    outcomes = []
    for name, future in admin.create_topics(new, request_timeout=timeout_s, operation_timeout=timeout_s).items():
        try:
            _result(admin, future, name, "create", timeout_s)
            outcomes.append(TopicOutcome(name, True, "created"))
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise SpiderError(f"cannot create topic {name}: {error.str()}") from None
            outcomes.append(TopicOutcome(name, False, "already exists"))
    sizes = {topic.topic: topic.config["max.message.bytes"] for topic in new if "max.message.bytes" in topic.config}
    current = _size_limits(admin, [o.name for o in outcomes if not o.created and o.name in sizes], timeout_s)
    changed = {name: sizes[name] for name, size in current.items() if size != sizes[name]}
    if changed:
        _set_size_limits(admin, changed, timeout_s)
    return [
        TopicOutcome(o.name, False, f"{o.detail}, max.message.bytes {current[o.name]} -> {changed[o.name]}")
        if o.name in changed
        else o
        for o in outcomes
    ]


def _size_limits(admin: AdminClient, names: list[str], timeout_s: float) -> dict[str, str]:
    """The `max.message.bytes` each existing topic has now."""
    if not names:
        return {}
    found: dict[str, str] = {}
    deadline = time.monotonic() + timeout_s
    while len(found) < len(names):
        resources = [ConfigResource("topic", name) for name in names if name not in found]
        for resource, future in admin.describe_configs(resources, request_timeout=timeout_s).items():
            try:
                found[resource.name] = kafka_clients.wait(admin, future, timeout_s + 5)["max.message.bytes"].value
            except KafkaException as exc:
                # a topic created a moment ago is not known to every broker yet
                if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART or time.monotonic() > deadline:
                    raise SpiderError(
                        f"cannot read the settings of topic {resource.name}: {exc.args[0].str()}"
                    ) from None
            except TimeoutError:
                raise SpiderError(f"cannot read the settings of topic {resource.name}: no answer") from None
        if len(found) < len(names):
            time.sleep(0.2)
    return found


def _set_size_limits(admin: AdminClient, sizes: dict[str, str], timeout_s: float) -> None:
    """Set `max.message.bytes` of existing topics, leaving their other settings as they are."""
    resources = [
        ConfigResource(
            "topic",
            name,
            incremental_configs=[ConfigEntry("max.message.bytes", size, incremental_operation=AlterConfigOpType.SET)],
        )
        for name, size in sizes.items()
    ]
    for resource, future in admin.incremental_alter_configs(resources, request_timeout=timeout_s).items():
        try:
            _result(admin, future, resource.name, "set max.message.bytes of", timeout_s)
        except KafkaException as exc:
            raise SpiderError(f"cannot set max.message.bytes of topic {resource.name}: {exc.args[0].str()}") from None


def _result(admin: AdminClient, future: Future[Any], name: str, action: str, timeout_s: float) -> None:
    try:
        kafka_clients.wait(admin, future, timeout_s + 5)
    except TimeoutError:
        raise SpiderError(f"cannot {action} topic {name}: Kafka did not answer in {timeout_s:.0f} s") from None
