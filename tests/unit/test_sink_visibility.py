"""What a sink logs about rejections and hanging requests: few lines, whatever the volume."""

import logging
import time

from services.sinks.visibility import SAMPLE_CHARS, RejectionSummary, SlowRequests, reason_key

log = logging.getLogger("test.sink")
MAPPING = (
    "HTTP 400 document_parsing_exception: [1:17] failed to parse field [RequestCpus] of type [long] in document "
    "with id 'vocms0255.cern.ch#4000001.0#1709596800#1709604000'. Preview of field's value: '" + "x" * 9000 + "'"
)
UNDECODABLE = "undecodable document message: value is not a JSON object"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_reason_is_counted_by_its_class():
    assert reason_key(MAPPING) == "HTTP 400 document_parsing_exception"
    assert reason_key(UNDECODABLE) == "undecodable document message"


def test_a_burst_of_rejections_gives_one_sample_and_one_summary_per_minute(caplog):
    clock = Clock()
    summary = RejectionSummary(log, {"target": "es-local"}, clock=clock)
    with caplog.at_level(logging.WARNING, logger="test.sink"):
        for offset in range(1500):
            summary.add(MAPPING, {"topic": "docs.history", "partition": 0, "offset": offset})
            clock.now += 0.02
            summary.tick()
        summary.add(UNDECODABLE, {"topic": "docs.history", "partition": 1, "offset": 7})
        clock.now += 31
        summary.tick()

    [sample, counts] = [record.getMessage() for record in caplog.records]
    assert sample.startswith("document dead-lettered: HTTP 400 document_parsing_exception: [1:17]")
    assert len(sample) < SAMPLE_CHARS + 200  # not the 9 KB reason: that stays in the dead letter
    assert counts == (
        "1501 documents dead-lettered in the last 61 s, by reason: "
        "{'HTTP 400 document_parsing_exception': 1500, 'undecodable document message': 1}"
    )
    assert caplog.records[0].offset == 0


def test_nothing_is_logged_without_rejections_and_a_new_window_starts_with_a_new_sample(caplog):
    clock = Clock()
    summary = RejectionSummary(log, {"target": "es-local"}, clock=clock)
    with caplog.at_level(logging.WARNING, logger="test.sink"):
        summary.tick(force=True)
        assert caplog.records == []
        summary.add(UNDECODABLE, {"offset": 1})
        summary.tick(force=True)  # at shutdown: the window so far
        summary.add(UNDECODABLE, {"offset": 2})
    assert [record.getMessage().split(":")[0] for record in caplog.records] == [
        "document dead-lettered",
        "1 documents dead-lettered in the last 0 s, by reason",
        "document dead-lettered",
    ]


def test_a_request_waiting_past_the_threshold_is_logged_once_and_again_when_it_ends(caplog):
    slow = SlowRequests(log, {"target": "es-local"}, threshold_s=0.05)
    with caplog.at_level(logging.WARNING, logger="test.sink"):
        with slow.track("writing 2000 documents"):
            slow.check()  # not late yet
            time.sleep(0.1)
            slow.check()
            slow.check()
        with slow.track("writing 10 documents"):
            slow.check()
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("writing 2000 documents: no answer from the target for 0 s, still waiting")
    assert messages[1] == "writing 2000 documents: the request ended after 0 s"
