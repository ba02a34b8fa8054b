"""Remove what a demo of a given name left behind: its consumer groups, topics and indices.

Run before every demo so the counts it shows are those of this run only, and by the tests afterwards.
A group that still has members means that demo is running (e.g. `--keep-running`): nothing is deleted then.
On a Kafka that has just started, the deletions wait (bounded) until its group coordinator answers.
"""

from __future__ import annotations

import contextlib
import time

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from deploy.demo.workdir import DemoNames
from services.common import kafka as kafka_clients
from services.common import search_clients
from services.common.config import ClusterConfig, KafkaSettings
from services.common.errors import SpiderError

TIMEOUT_S = 30.0


def delete_groups(admin: AdminClient, kafka: KafkaSettings, names: DemoNames, groups: list[str]) -> None:
    for group in groups:
        try:
            kafka_clients.coordinated(
                admin,
                kafka,
                lambda group=group: admin.delete_consumer_groups([group], request_timeout=TIMEOUT_S)[group],
                f"deleting consumer group {group}",
                TIMEOUT_S,
            )
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.code() == KafkaError.NON_EMPTY_GROUP:
                raise SpiderError(
                    f"the demo {names.name!r} is still running (consumer group {group} has members); "
                    "stop it first, or pass another --name"
                ) from None
            if error.code() not in (KafkaError.GROUP_ID_NOT_FOUND, KafkaError._UNKNOWN_GROUP):
                raise SpiderError(f"cannot delete consumer group {group}: {error.str()}") from None


def delete_topics(admin: AdminClient, prefix: str) -> None:
    """Delete every topic under the prefix and wait until Kafka no longer lists them."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        existing = [t for t in admin.list_topics(timeout=TIMEOUT_S).topics if t.startswith(prefix)]
        if not existing:
            return
        for future in admin.delete_topics(existing, operation_timeout=TIMEOUT_S).values():
            with contextlib.suppress(KafkaException):  # "unknown topic" from an earlier attempt is fine
                kafka_clients.wait(admin, future, TIMEOUT_S)
        time.sleep(0.5)
    raise SpiderError(f"topics {prefix}* are still listed {TIMEOUT_S:.0f}s after their deletion")


def delete_indices(cluster: ClusterConfig, pattern: str) -> None:
    """By exact names: Elasticsearch refuses wildcard deletes by default (action.destructive_requires_name)."""
    client = search_clients.client(cluster, timeout_s=TIMEOUT_S)
    try:
        found = list(client.indices.get(index=pattern, allow_no_indices=True, ignore_unavailable=True))
        if found:
            client.indices.delete(index=",".join(found))
    finally:
        client.close()


def clean(names: DemoNames, kafka: KafkaSettings, clusters: list[ClusterConfig], groups: list[str]) -> None:
    admin = kafka_clients.admin(kafka)
    kafka_clients.ready(admin, kafka, TIMEOUT_S)
    delete_groups(admin, kafka, names, groups)
    delete_topics(admin, names.topic_prefix)
    for cluster in clusters:
        delete_indices(cluster, names.index_pattern)
