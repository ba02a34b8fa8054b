"""The dead letters of a sink: a refused or undecodable document is logged (a sample and a count per reason),
counted, and recorded in the dead-letter topic; its offset is acknowledged once Kafka holds the record (or at
once under dlq_policy "log")."""

from __future__ import annotations

import logging

from confluent_kafka import Message

from services.common import dead_letter
from services.common.kafka import DeadLetterProducer
from services.sinks import metrics
from services.sinks.config import SinkConfig
from services.sinks.offsets import PartitionOffsets
from services.sinks.visibility import RejectionSummary

log = logging.getLogger("services.sinks.runner")


class SinkDeadLetters:
    def __init__(self, config: SinkConfig, target: str) -> None:
        self.target = target
        self.policy = config.dlq_policy
        self.producer = DeadLetterProducer(config.kafka, config.dlq_topic, {"target": target})
        self.rejections = RejectionSummary(log, {"target": target})
        self._service = dead_letter.service_identity(f"sink-{target}")

    def send(self, raw: Message, tracker: PartitionOffsets, reason: str, reason_class: str) -> None:
        self.rejections.add(reason, {"topic": raw.topic(), "partition": raw.partition(), "offset": raw.offset()})
        metrics.DEAD_LETTERS.labels(self.target, reason_class).inc()
        if self.policy == "log":
            tracker.ack(raw.offset())
            return
        origin = dead_letter.Origin(
            raw.topic(), raw.partition(), raw.offset(), raw.key(), raw.value(), raw.headers() or ()
        )
        letter = dead_letter.record(
            f"sink-{self.target}",
            reason,
            origin,
            self._service,
            details={"target": self.target, "class": reason_class},
        )
        self.producer.send(letter, lambda: tracker.ack(raw.offset()))
