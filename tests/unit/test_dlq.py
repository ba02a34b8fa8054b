"""`spider dlq`: which dead letters a selection takes, how they are counted, and what a re-drive sends where."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from services.common import dead_letter, redrive
from services.common.dead_letter import DeadLetter, Origin
from services.recovery import dlq
from services.recovery.dlq import Selection, Stored
from services.recovery.replay import parse_coordinates

SERVICE = {"name": "sink-es-cms", "version": "0.1.0", "git_hash": "abc123def456", "host": "spider-1.cern.ch"}
INPUTS = {
    "converter": ("spider.raw.queue", "spider.raw.history"),
    "sink": ("spider.docs.queue", "spider.docs.history"),
}
JOB = "vocms0255.cern.ch#4000001.0#1709596800"
DOC = f"{JOB}#1709604000"
ES_REJECTION = (
    "HTTP 400 document_parsing_exception: [1:180] failed to parse field [Site] of type [long] in document with id "
    f"'{DOC}'. Preview of field's value: 'T2_CH_CERN' (caused by illegal_argument_exception: For input string)"
)
OS_REJECTION = "HTTP 400 mapper_parsing_exception: failed to parse field [Site] of type [long] in document"
DOC_HEADERS = (("schema", b"spider.document/1"), ("index_date", b"2024-03-06"), ("source", b"condor_history"))


def sink_letter(
    target: str = "es-cms",
    reason: str = ES_REJECTION,
    *,
    key: str = DOC,
    topic: str = "spider.docs.history",
    partition: int = 1,
    offset: int = 40,
    at: float = 1709700000.0,
    headers=DOC_HEADERS,
) -> DeadLetter:
    origin = Origin(topic, partition, offset, key.encode(), b'{"GlobalJobId": "%s"}' % JOB.encode(), headers)
    details = {"target": target, "class": "rejected"}
    return dead_letter.record(f"sink-{target}", reason, origin, SERVICE, details=details, now=at)


def converter_letter(reason: str = "conversion_error", *, offset: int = 7, at: float = 1709700000.0) -> DeadLetter:
    origin = Origin("spider.raw.history", 0, offset, JOB.encode(), b'{"schema": "spider.raw_ad/1", "ad": {}}')
    error = "JobStatus is '4', not an integer" if reason == "conversion_error" else "not JSON"
    return dead_letter.record("converter", error, origin, SERVICE, details={"reason": reason}, now=at)


def stored(letter: DeadLetter | None, offset: int = 0, topic: str = "spider.dlq.sinks", partition: int = 0) -> Stored:
    return Stored(topic, partition, offset, 1709700000000, letter, None if letter else "not JSON")


# -- reason classes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("letter", "expected"),
    [
        (sink_letter(reason=ES_REJECTION), "document_parsing_exception"),
        (sink_letter("opensearch-cms", OS_REJECTION), "mapper_parsing_exception"),
        (sink_letter("amq", "JobStatus (str) is not integer per schemas/monit.v1.schema.json"), "rejected"),
        (converter_letter("malformed_envelope"), "malformed_envelope"),
        (converter_letter("conversion_error"), "conversion_error"),
    ],
)
def test_the_reason_class_is_the_cluster_error_type_else_the_class_the_stage_recorded(letter, expected):
    assert dlq.reason_class(letter) == expected


def test_the_target_comes_from_the_details_or_else_from_the_stage():
    assert dlq.target_of(sink_letter("opensearch-cms")) == "opensearch-cms"
    bare = DeadLetter("sink-amq", "refused", "Error", Origin(), 0.0, SERVICE)
    assert dlq.target_of(bare) == "amq"
    assert dlq.target_of(converter_letter()) is None


# -- selection ------------------------------------------------------------------------------------------------


def test_reason_text_matches_any_case_and_any_of_several():
    selection = Selection(reasons=("FAILED TO PARSE FIELD [site]", "no GlobalJobId"))
    assert selection.matches(stored(sink_letter()))
    assert not selection.matches(stored(converter_letter()))


def test_time_range_includes_since_and_excludes_until():
    selection = Selection(since=datetime.fromtimestamp(1709700000, UTC), until=datetime.fromtimestamp(1709703600, UTC))
    assert selection.matches(stored(sink_letter(at=1709700000.0)))
    assert selection.matches(stored(sink_letter(at=1709703599.9)))
    assert not selection.matches(stored(sink_letter(at=1709703600.0)))
    assert not selection.matches(stored(sink_letter(at=1709699999.0)))


def test_an_id_selects_the_document_or_every_document_of_the_job_but_not_a_longer_job_id():
    other_job = sink_letter(key="vocms0255.cern.ch#4000001.0#17095968001#1709604000")
    assert Selection(ids=(DOC,)).matches(stored(sink_letter()))
    assert Selection(ids=(JOB,)).matches(stored(sink_letter()))
    assert Selection(ids=(JOB,)).matches(stored(converter_letter()))
    assert not Selection(ids=(JOB,)).matches(stored(other_job))


def test_class_and_target_narrow_together():
    selection = Selection(classes=("document_parsing_exception",), targets=("es-cms",))
    assert selection.matches(stored(sink_letter("es-cms")))
    assert not selection.matches(stored(sink_letter("es-other")))
    assert not selection.matches(stored(sink_letter("es-cms", OS_REJECTION)))


def test_coordinates_name_the_dead_letter_or_its_original_message():
    letter = sink_letter(partition=1, offset=40)
    assert Selection(at=frozenset({("spider.dlq.sinks", 0, 5)})).matches(stored(letter, offset=5))
    assert Selection(at=frozenset({("spider.docs.history", 1, 40)})).matches(stored(letter, offset=5))
    assert not Selection(at=frozenset({("spider.docs.history", 1, 41)})).matches(stored(letter, offset=5))


def test_an_unreadable_record_is_selected_unless_a_filter_needs_its_content():
    unreadable = stored(None, offset=9)
    assert Selection().matches(unreadable)
    assert Selection(at=frozenset({("spider.dlq.sinks", 0, 9)})).matches(unreadable)
    assert not Selection(at=frozenset({("spider.dlq.sinks", 0, 8)})).matches(unreadable)
    assert not Selection(reasons=("Site",)).matches(unreadable)
    assert not Selection(since=datetime(2024, 1, 1, tzinfo=UTC)).matches(unreadable)


def test_coordinates_are_topic_partition_offset_triples_in_any_number():
    assert parse_coordinates("dlq.sinks:0:5,dlq.sinks:0:9, spider.dlq.converter:2:0") == (
        ("dlq.sinks", 0, 5),
        ("dlq.sinks", 0, 9),
        ("spider.dlq.converter", 2, 0),
    )
    with pytest.raises(ValueError, match="at least one topic:partition:offset"):
        parse_coordinates(" , ")


# -- count ----------------------------------------------------------------------------------------------------


def test_count_groups_by_topic_stage_and_class_with_the_time_range_and_redriven_ones():
    marked = tuple(redrive.marked(DOC_HEADERS, ["es-cms"], ["spider.dlq.sinks:0:1"]))
    found = [
        stored(sink_letter(at=1709700000.0), 1),
        stored(sink_letter(at=1709710000.0, offset=41), 2),
        stored(sink_letter(at=1709705000.0, offset=77, headers=marked), 3),
        stored(sink_letter("amq", "JobStatus (str)", at=1709700500.0), 4),
        stored(None, 5),
        stored(converter_letter(), 0, "spider.dlq.converter"),
    ]

    summary = dlq.summary_json(
        dlq.summarize(["spider.dlq.converter", "spider.dlq.sinks"], found), {"spider.dlq.sinks"}
    )["topics"]

    sinks = summary["spider.dlq.sinks"]
    assert (sinks["exists"], sinks["total"], sinks["unreadable"]) == (True, 5, 1)
    assert (sinks["first"], sinks["last"]) == ("2024-03-06T04:40:00Z", "2024-03-06T07:26:40Z")
    assert [(g["stage"], g["reason_class"], g["count"], g["from_redrive"]) for g in sinks["groups"]] == [
        ("sink-es-cms", "document_parsing_exception", 3, 1),
        ("sink-amq", "rejected", 1, 0),
    ]
    assert summary["spider.dlq.converter"]["exists"] is False
    assert summary["spider.dlq.converter"]["groups"][0]["reason_class"] == "conversion_error"


# -- show -----------------------------------------------------------------------------------------------------


def test_show_decodes_the_original_document_and_masks_secret_looking_values():
    body = {
        "GlobalJobId": JOB,
        "Environment": "X509_USER_PROXY=/tmp/x509up_u100 AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI GRID_TOKEN='eyJhbGci'",
        "CRAB_Password": "hunter2",
        "Site": "T2_CH_CERN",
        "NumJobsPassed": 3,
        "Args": "--passes 2 --events=1000",
    }
    origin = Origin("spider.docs.history", 1, 40, DOC.encode(), orjson.dumps(body), DOC_HEADERS)
    letter = dead_letter.record("sink-es-cms", ES_REJECTION, origin, SERVICE, details={"target": "es-cms"})

    shown = dlq.describe(stored(letter, 12))

    text = orjson.dumps(shown).decode()
    assert "wJalrXUtnFEMI" not in text and "hunter2" not in text and "eyJhbGci" not in text
    value = shown["original"]["value"]
    assert value["Environment"] == "X509_USER_PROXY=/tmp/x509up_u100 AWS_SECRET_ACCESS_KEY=*** GRID_TOKEN=***"
    assert value["CRAB_Password"] == "***"
    assert (value["Site"], value["NumJobsPassed"]) == ("T2_CH_CERN", 3)
    assert value["Args"] == "--passes 2 --events=1000"
    assert shown["original"]["message"] == "spider.docs.history:1:40"
    assert shown["original"]["headers"]["index_date"] == "2024-03-06"
    assert (shown["dead_letter"], shown["target"], shown["reason_class"]) == (
        "spider.dlq.sinks:0:12",
        "es-cms",
        "document_parsing_exception",
    )


def test_show_gives_bytes_that_are_neither_json_nor_text_as_base64():
    origin = Origin("spider.raw.history", 0, 3, None, b"\xff\xfe\x00garbage")
    letter = dead_letter.record("converter", "not JSON", origin, SERVICE, details={"reason": "malformed_envelope"})
    assert dlq.describe(stored(letter))["original"]["value"] == {"base64": "//4AZ2FyYmFnZQ=="}


# -- re-drive plan --------------------------------------------------------------------------------------------


def test_a_converter_dead_letter_goes_back_to_its_raw_topic_and_partition_for_every_sink():
    result = dlq.plan([stored(converter_letter(offset=7), 3, "spider.dlq.converter")], INPUTS)

    [send] = result.sends
    assert (send.topic, send.partition, send.key, send.targets) == ("spider.raw.history", 0, JOB.encode(), ())
    assert send.of == ("spider.dlq.converter:0:3",)
    assert dict(send.marked_headers()) == {"redrive_of": b"spider.dlq.converter:0:3"}


def test_one_document_refused_by_two_targets_is_sent_once_naming_both():
    found = [stored(sink_letter("es-cms"), 10), stored(sink_letter("opensearch-cms", OS_REJECTION), 11)]

    [send] = dlq.plan(found, INPUTS).sends

    assert (send.topic, send.partition, send.targets) == ("spider.docs.history", 1, ("es-cms", "opensearch-cms"))
    headers = dict(send.marked_headers())
    assert headers["redrive_targets"] == b"es-cms,opensearch-cms"
    assert headers["redrive_of"] == b"spider.dlq.sinks:0:10,spider.dlq.sinks:0:11"
    assert headers["index_date"] == b"2024-03-06"


def test_only_the_newest_dead_letter_of_a_document_and_target_is_sent_for_both():
    older, newer = stored(sink_letter(offset=40), 10), stored(sink_letter(offset=95), 11)
    other_target = stored(sink_letter("opensearch-cms", offset=40), 12)

    result = dlq.plan([newer, older, other_target], INPUTS)

    assert result.superseded == ["spider.dlq.sinks:0:10"]
    assert sorted((s.partition, s.targets) for s in result.sends) == [(1, ("es-cms",)), (1, ("opensearch-cms",))]
    # the send names the older dead letter too: a later re-drive knows it as done
    assert {s.of for s in result.sends} == {
        ("spider.dlq.sinks:0:10", "spider.dlq.sinks:0:11"),
        ("spider.dlq.sinks:0:12",),
    }


def test_dead_letters_already_re_driven_are_left_out_unless_again():
    found = [stored(sink_letter(offset=40), 10), stored(sink_letter(key=f"{JOB}#1709604001", offset=41), 11)]
    earlier = {"spider.dlq.sinks:0:10": "spider.docs.history:1:900"}

    result = dlq.plan(found, INPUTS, earlier)

    assert result.already == earlier
    assert [s.of for s in result.sends] == [("spider.dlq.sinks:0:11",)]
    assert len(dlq.plan(found, INPUTS, earlier, again=True).sends) == 2


@pytest.mark.parametrize(
    ("letter", "why"),
    [
        (dead_letter.record("collector", "bad line", Origin(value=b"x"), SERVICE), "read from a file"),
        (sink_letter(topic="other.docs.history"), "not an input of the sink"),
        (
            dead_letter.record("converter", "empty message", Origin("spider.raw.queue", 0, 1, b"k", None), SERVICE),
            "no value",
        ),
        (
            dead_letter.record(
                "converter",
                "message too large",
                Origin("spider.raw.history", 0, 1, b"k", b'{"schema": "spider.raw_ad/1", "ad": {"Environ'),
                SERVICE,
                details={"original_cut": {"value_bytes": 12_000_000, "kept_bytes": 46}},
            ),
            "keeps only the start of the original value",
        ),
    ],
)
def test_dead_letters_that_cannot_go_back_are_listed_with_the_reason(letter, why):
    result = dlq.plan([stored(letter, 4)], INPUTS)
    assert result.sends == []
    assert why in result.unusable["spider.dlq.sinks:0:4"]


def test_plan_rows_count_messages_per_topic_and_targets():
    found = [
        stored(sink_letter(offset=40), 1),
        stored(sink_letter(key=f"{JOB}#1", offset=41), 2),
        stored(sink_letter(key=f"{JOB}#2", topic="spider.docs.queue", offset=3), 3),
        stored(converter_letter(), 4, "spider.dlq.converter"),
    ]
    assert dlq.plan(found, INPUTS).rows() == [
        ("spider.docs.history", "es-cms", 2),
        ("spider.docs.queue", "es-cms", 1),
        ("spider.raw.history", "all sinks (converted again)", 1),
    ]


# -- the marker -----------------------------------------------------------------------------------------------


def test_a_second_re_drive_replaces_the_older_marker():
    first = redrive.marked(DOC_HEADERS, ["es-cms"], ["spider.dlq.sinks:0:1"])
    second = redrive.marked(first, ["opensearch-cms"], ["spider.dlq.sinks:0:7"])

    assert [name for name, _ in second].count("redrive_targets") == 1
    assert redrive.redriven_from(second) == ["spider.dlq.sinks:0:7"]
    assert redrive.skipped_by(second, "es-cms")


def test_only_the_targets_named_in_the_marker_take_a_re_driven_document():
    headers = redrive.marked(DOC_HEADERS, ["es-cms", "opensearch-cms"], ["spider.dlq.sinks:0:1"])
    assert not redrive.skipped_by(headers, "es-cms")
    assert not redrive.skipped_by(headers, "opensearch-cms")
    assert redrive.skipped_by(headers, "amq")
    assert redrive.skipped_by(headers, "es-cms-2")
    assert not redrive.skipped_by(list(DOC_HEADERS), "amq")  # a first send goes to every sink
    assert not redrive.skipped_by(None, "amq")
