"""Contiguous offset tracking: a partition's commit never passes a document that is not yet written."""

from services.sinks.offsets import PartitionOffsets


def consumed(*offsets: int) -> PartitionOffsets:
    tracker = PartitionOffsets()
    for offset in offsets:
        assert tracker.add(offset)
    return tracker


def test_nothing_consumed_nothing_to_commit():
    assert PartitionOffsets().committable() is None


def test_nothing_acknowledged_commits_the_first_consumed_offset_at_most():
    tracker = consumed(10, 11, 12)
    assert tracker.committable() == 10


def test_all_acknowledged_commits_past_the_last():
    tracker = consumed(10, 11, 12)
    for offset in (10, 11, 12):
        tracker.ack(offset)
    assert tracker.committable() == 13
    assert tracker.in_flight == 0


def test_a_later_batch_finishing_first_does_not_move_the_commit():
    tracker = consumed(*range(100, 110))
    for offset in range(105, 110):  # second batch acknowledged before the first
        tracker.ack(offset)
    assert tracker.committable() == 100
    for offset in range(100, 105):
        tracker.ack(offset)
    assert tracker.committable() == 110


def test_the_commit_stops_at_the_first_gap_in_acknowledgements():
    tracker = consumed(0, 1, 2, 3, 4)
    for offset in (0, 1, 3, 4):
        tracker.ack(offset)
    assert tracker.committable() == 2
    assert tracker.in_flight == 1


def test_offsets_missing_from_the_log_do_not_hold_back_the_commit():
    # Compacted topics and transaction markers leave holes in a partition's offsets.
    tracker = consumed(5, 9, 20)
    for offset in (5, 9, 20):
        tracker.ack(offset)
    assert tracker.committable() == 21


def test_a_committed_position_is_not_offered_again():
    tracker = consumed(0, 1)
    tracker.ack(0)
    tracker.mark_committed(tracker.committable())
    assert tracker.committable() is None
    tracker.ack(1)
    assert tracker.committable() == 2


def test_a_redelivered_offset_is_refused_so_it_is_handled_once():
    tracker = consumed(7, 8)
    assert not tracker.add(8)
    assert not tracker.add(3)
    assert tracker.add(9)


def test_acknowledging_an_unknown_offset_changes_nothing():
    tracker = consumed(3, 4)
    tracker.ack(99)
    tracker.ack(1)
    assert tracker.committable() == 3
