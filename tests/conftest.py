"""Session fixtures shared by every test: the local stack and per-test isolation helpers.

`stack` brings the local stack up once per session (a running one is reused, see deploy.local.stack) and
fails the test, never skips it, if a server cannot be made healthy. Ports follow SPIDER_STACK_* like
`spider stack up`. Isolation: every test gets its own names from `unique` (topics `t-<uuid8>.…`, consumer
groups, index names, STOMP destinations), so parallel runs never collide.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from deploy.local import stack as local_stack
from deploy.local.config import StackConfig, load_stack_config


@dataclass(frozen=True)
class Endpoints:
    """Where the servers of the local stack listen."""

    kafka_bootstrap: str
    elasticsearch_url: str
    opensearch_url: str
    stomp_host: str
    stomp_port: int


@pytest.fixture(scope="session")
def stack_config() -> StackConfig:
    return load_stack_config()


@pytest.fixture(scope="session")
def stack(stack_config: StackConfig) -> Endpoints:
    outcomes = local_stack.up(stack_config)
    failed = [o for o in outcomes if o.state == "failed"]
    if failed:
        pytest.fail("local stack is not usable: " + "; ".join(f"{o.name}: {o.detail}" for o in failed))
    ends = stack_config.endpoints()
    return Endpoints(
        kafka_bootstrap=ends["kafka"],
        elasticsearch_url=ends["elasticsearch"],
        opensearch_url=ends["opensearch"],
        stomp_host=stack_config.host,
        stomp_port=stack_config.port("stomp"),
    )


@pytest.fixture
def unique() -> str:
    """A short random token for names private to one test."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def kafka_admin(stack: Endpoints) -> AdminClient:
    return AdminClient({"bootstrap.servers": stack.kafka_bootstrap})


@pytest.fixture
def kafka_topic(kafka_admin: AdminClient, unique: str) -> Iterator[Callable[..., str]]:
    """Factory creating topics `t-<uuid8>.<name>` for this test only; they are deleted afterwards."""
    created: list[str] = []

    def make(name: str = "topic", partitions: int = 1) -> str:
        topic = f"t-{unique}.{name}"
        futures = kafka_admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
        futures[topic].result(timeout=30)
        created.append(topic)
        return topic

    yield make
    if created:
        for future in kafka_admin.delete_topics(created).values():
            future.exception(timeout=30)
