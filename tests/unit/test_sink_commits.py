"""Offset commits count only once Kafka confirms them: a failed asynchronous commit is sent again, so the final
commit at shutdown covers every acknowledged document (no replay of written documents after a restart)."""

from confluent_kafka import KafkaError, TopicPartition

from services.sinks.config import SinkConfig
from services.sinks.offsets import PartitionOffsets
from services.sinks.runner import SinkRunner

TOPIC = "t.cms.docs.history"


class NullTarget:
    name = "local-es"
    parse_body = False

    def write(self, batch):
        return []

    def close(self) -> None:
        pass


def runner_with_written(count: int) -> SinkRunner:
    """A runner (not started) whose partition 0 has offsets 0..count-1 written and acknowledged."""
    runner = SinkRunner(NullTarget(), SinkConfig(), group_id="t-commits")
    tracker = runner._trackers[(TOPIC, 0)] = PartitionOffsets()
    for offset in range(count):
        tracker.add(offset)
        tracker.ack(offset)
    return runner


def positions(offsets: list[TopicPartition]) -> list[tuple[str, int, int]]:
    return [(tp.topic, tp.partition, tp.offset) for tp in offsets]


def test_an_acknowledged_prefix_is_to_be_committed_until_kafka_confirms_it():
    runner = runner_with_written(5)
    assert positions(runner._uncommitted()) == [(TOPIC, 0, 5)]
    assert positions(runner._uncommitted()) == [(TOPIC, 0, 5)]  # sending it does not count as done


def test_a_failed_asynchronous_commit_leaves_the_offsets_for_the_next_commit():
    runner = runner_with_written(5)
    runner._on_commit(KafkaError(KafkaError.REQUEST_TIMED_OUT), [TopicPartition(TOPIC, 0, 5)])
    assert positions(runner._uncommitted()) == [(TOPIC, 0, 5)]


def test_a_confirmed_commit_is_not_sent_again():
    runner = runner_with_written(5)
    runner._on_commit(None, [TopicPartition(TOPIC, 0, 5)])
    assert runner._uncommitted() == []
    assert runner._trackers[(TOPIC, 0)].committed == 5


def test_a_confirmation_of_an_older_commit_leaves_the_newer_acknowledgements_to_commit():
    runner = runner_with_written(5)
    runner._on_commit(None, [TopicPartition(TOPIC, 0, 3)])
    assert positions(runner._uncommitted()) == [(TOPIC, 0, 5)]
