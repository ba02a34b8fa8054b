"""Offset commits count only once Kafka confirms them: a failed asynchronous commit is sent again, so the final
commit at shutdown covers every acknowledged document (no replay of written documents after a restart)."""

from confluent_kafka import KafkaError, TopicPartition

from services.sinks.commits import CommitManager

TOPIC = "t.cms.docs.history"


def commits_with_written(count: int) -> CommitManager:
    """The commit manager of a sink (its consumer not started) whose partition 0 has offsets 0..count-1 written
    and acknowledged."""
    commits = CommitManager("local-es")
    tracker = commits.tracker(TOPIC, 0)
    for offset in range(count):
        tracker.add(offset)
        tracker.ack(offset)
    return commits


def positions(offsets: list[TopicPartition]) -> list[tuple[str, int, int]]:
    return [(tp.topic, tp.partition, tp.offset) for tp in offsets]


def test_an_acknowledged_prefix_is_to_be_committed_until_kafka_confirms_it():
    commits = commits_with_written(5)
    assert positions(commits.uncommitted()) == [(TOPIC, 0, 5)]
    assert positions(commits.uncommitted()) == [(TOPIC, 0, 5)]  # sending it does not count as done


def test_a_failed_asynchronous_commit_leaves_the_offsets_for_the_next_commit():
    commits = commits_with_written(5)
    commits.on_commit(KafkaError(KafkaError.REQUEST_TIMED_OUT), [TopicPartition(TOPIC, 0, 5)])
    assert positions(commits.uncommitted()) == [(TOPIC, 0, 5)]


def test_a_confirmed_commit_is_not_sent_again():
    commits = commits_with_written(5)
    commits.on_commit(None, [TopicPartition(TOPIC, 0, 5)])
    assert commits.uncommitted() == []
    assert commits.trackers[(TOPIC, 0)].committed == 5


def test_a_confirmation_of_an_older_commit_leaves_the_newer_acknowledgements_to_commit():
    commits = commits_with_written(5)
    commits.on_commit(None, [TopicPartition(TOPIC, 0, 3)])
    assert positions(commits.uncommitted()) == [(TOPIC, 0, 5)]


def test_a_commit_overtaken_by_a_group_rebalance_is_no_warning(caplog):
    commits = commits_with_written(5)
    with caplog.at_level("INFO", logger="services.sinks.runner"):
        commits.on_commit(KafkaError(KafkaError.ILLEGAL_GENERATION), [TopicPartition(TOPIC, 0, 5)])
    assert [record.levelname for record in caplog.records] == ["INFO"]
    assert positions(commits.uncommitted()) == [(TOPIC, 0, 5)]


def test_a_commit_the_broker_did_not_answer_is_a_warning(caplog):
    commits = commits_with_written(5)
    commits.on_commit(KafkaError(KafkaError.REQUEST_TIMED_OUT), [TopicPartition(TOPIC, 0, 5)])
    assert [record.levelname for record in caplog.records] == ["WARNING"]
