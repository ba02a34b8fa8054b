"""Bulk requests and responses of the ES/OpenSearch sink: routing, ids, and how each item outcome is judged."""

import dataclasses

import orjson
import pytest

from services.common.document_message import DocMessage
from services.sinks.bulk import bulk_body, classify, index_name
from services.sinks.errors import TargetUnavailable


def doc(doc_id: str, source: str = "condor_history", day: str = "2024-03-05", **body) -> DocMessage:
    """As the search sinks decode it: the value as received, not parsed."""
    value = orjson.dumps({"GlobalJobId": doc_id, **body})
    return DocMessage(id=doc_id, index_date=day, source=source, git_hash="abc", value=value)


def test_documents_go_to_the_daily_index_of_their_index_date():
    assert index_name(doc("a#1", day="2024-03-05"), "cms", None) == "cms-2024-03-05"


def test_queue_documents_go_to_their_own_template_when_configured():
    assert index_name(doc("a#1", source="condor_queue"), "cms", "cms-queue") == "cms-queue-2024-03-05"
    assert index_name(doc("a#1", source="condor_history"), "cms", "cms-queue") == "cms-2024-03-05"
    assert index_name(doc("a#1", source="condor_queue"), "cms", None) == "cms-2024-03-05"


def test_bulk_body_indexes_each_document_under_its_id():
    body = bulk_body([doc("s#1.0#100", CpuEff=0.5), doc("s#2.0#100", day="2024-03-06")], "cms", None)
    lines = body.split(b"\n")
    assert lines[-1] == b""  # NDJSON ends with a newline
    assert [orjson.loads(line) for line in lines[:-1]] == [
        {"index": {"_index": "cms-2024-03-05", "_id": "s#1.0#100"}},
        {"GlobalJobId": "s#1.0#100", "CpuEff": 0.5},
        {"index": {"_index": "cms-2024-03-06", "_id": "s#2.0#100"}},
        {"GlobalJobId": "s#2.0#100"},
    ]


def test_bulk_body_sends_the_received_json_as_is_on_one_line():
    received = doc("s#1.0#100")
    compact = dataclasses.replace(received, value=b'{"GlobalJobId":"s#1.0#100","Site":"T2_CH_CERN"}')
    pretty = dataclasses.replace(received, value=b'{\n  "GlobalJobId": "s#1.0#100"\n}')
    lines = bulk_body([compact, pretty], "cms", None).split(b"\n")
    assert lines[1] == compact.value  # not parsed and re-serialized
    assert lines[3] == b'{   "GlobalJobId": "s#1.0#100" }'  # a line break inside a value would break NDJSON
    assert len(lines) == 5


def test_bulk_body_leaves_a_value_that_is_not_a_json_object_to_the_cluster_to_reject():
    broken = dataclasses.replace(doc("s#1.0#100"), value=b"not\njson")
    lines = bulk_body([broken, doc("s#2.0#100")], "cms", None).split(b"\n")
    assert lines[1] == b"not json"  # one line: the cluster rejects this item, not the whole request
    assert orjson.loads(lines[3]) == {"GlobalJobId": "s#2.0#100"}


def test_a_response_without_errors_rejects_nothing():
    assert classify([doc("a#1")], {"errors": False}) == []


def test_mapping_errors_become_rejections_with_the_reason_and_the_rest_is_written():
    batch = [doc("a#1"), doc("b#1"), doc("c#1")]
    response = {
        "errors": True,
        "items": [
            {"index": {"status": 201}},
            {
                "index": {
                    "status": 400,
                    "error": {
                        "type": "document_parsing_exception",
                        "reason": "[1:15] failed to parse field [RequestCpus] of type [long]",
                        "caused_by": {"type": "illegal_argument_exception", "reason": 'For input string: "many"'},
                    },
                }
            },
            {"index": {"status": 200}},
        ],
    }
    [rejection] = classify(batch, response)
    assert rejection.msg is batch[1]
    assert rejection.reason.startswith("HTTP 400 document_parsing_exception: [1:15] failed to parse field")
    assert 'For input string: "many"' in rejection.reason


def test_a_version_conflict_on_replay_counts_as_written():
    response = {"errors": True, "items": [{"index": {"status": 409, "error": {"type": "version_conflict"}}}]}
    assert classify([doc("a#1")], response) == []


@pytest.mark.parametrize("status", [429, 500, 503])
def test_an_overloaded_or_failing_cluster_makes_the_whole_batch_retry(status):
    response = {
        "errors": True,
        "items": [
            {"index": {"status": 201}},
            {"index": {"status": status, "error": {"type": "es_rejected_execution_exception", "reason": "queue full"}}},
        ],
    }
    with pytest.raises(TargetUnavailable, match=r"1 of 2 documents"):
        classify([doc("a#1"), doc("b#1")], response)
