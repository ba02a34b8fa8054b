"""Consumer group names: the one rule the services and the operator tools share.

- converter: one group, the converter setting `group_id` (the faust app id, default `spider-converter`),
  reading raw.queue and raw.history;
- sinks: one group per target, `<consumer_group_prefix>-<target>` (sinks setting, default `spider-sink`, e.g.
  `spider-sink-es-cms`, `spider-sink-amq`), reading docs.queue and docs.history.

Group ids do not carry the topic prefix: a second deployment (or a test) on the same Kafka sets its own
`converter.group_id` and `sinks.consumer_group_prefix`.

`spider status` finds the pipeline's groups by matching listed group ids against these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.common.config import KafkaSettings
from services.common.topics import DOCS_HISTORY, DOCS_QUEUE, RAW_HISTORY, RAW_QUEUE

Role = Literal["converter", "sink"]
CONVERTER_TOPICS = (RAW_QUEUE, RAW_HISTORY)
SINK_TOPICS = (DOCS_QUEUE, DOCS_HISTORY)


@dataclass(frozen=True)
class GroupNames:
    kafka: KafkaSettings
    converter: str = "spider-converter"
    sink_prefix: str = "spider-sink"

    def sink(self, target: str) -> str:
        return f"{self.sink_prefix}-{target}"

    def role(self, group: str) -> Role | None:
        """Which part of the pipeline a group id belongs to; None for a group outside the rule."""
        if group == self.converter:
            return "converter"
        if group.startswith(f"{self.sink_prefix}-") and len(group) > len(self.sink_prefix) + 1:
            return "sink"
        return None

    def input_topics(self, group: str) -> tuple[str, ...]:
        """Full names of the topics a pipeline group consumes; empty for a group outside the rule."""
        names = {"converter": CONVERTER_TOPICS, "sink": SINK_TOPICS}.get(self.role(group) or "", ())
        return tuple(self.kafka.topic(n) for n in names)
