"""`spider topics create`: every topic of services/common/topics.py, with its settings, under the prefix.

Idempotent: a topic that already exists is reported as such and left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

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
    replication: int = 1,
    specs: tuple[TopicSpec, ...] | None = None,
    timeout_s: float = 30.0,
) -> list[TopicOutcome]:
    """Create the topics; `partitions` overrides every spec's count except single-partition (ordered) ones.

    Without `specs`, every pipeline topic with the retention configured in `kafka.retention`."""
    specs = kafka.topic_specs() if specs is None else specs
    admin = AdminClient(kafka.client_config())
    new = [
        NewTopic(
            kafka.topic(spec.name),
            num_partitions=spec.partitions if partitions is None or spec.partitions == 1 else partitions,
            replication_factor=replication,
            config=spec.kafka_config(),
        )
        for spec in specs
    ]
    outcomes = []
    for name, future in admin.create_topics(new, request_timeout=timeout_s, operation_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s + 5)
            outcomes.append(TopicOutcome(name, True, "created"))
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise SpiderError(f"cannot create topic {name}: {error.str()}") from None
            outcomes.append(TopicOutcome(name, False, "already exists"))
        except TimeoutError:
            raise SpiderError(f"cannot create topic {name}: Kafka did not answer in {timeout_s:.0f} s") from None
    return outcomes
