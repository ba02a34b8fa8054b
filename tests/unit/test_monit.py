"""MONIT notifications: the body and headers the ActiveMQ sink sends, and the validation schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

import schemas
from services.sinks import monit

REGISTRY = schemas.load("field_types.json")
SCHEMA = schemas.load(monit.SCHEMA_FILE)
DATES = monit.date_fields(REGISTRY)
DATA = Path(__file__).parents[1] / "data"

DOC_ID = "vocms0255.cern.ch#48213563.0#1700000000#1700003600"
HISTORY_DOC = {
    "GlobalJobId": "vocms0255.cern.ch#48213563.0#1700000000",
    "RecordTime": 1700003600,
    "QDate": 1699990000,
    "JobStartDate": 1700000000,
    "CompletionDate": 1700003600,
    "EnteredCurrentStatus": 1700003600,
    "CRAB_TaskCreationDate": None,
    "ChirpCMSSWLastUpdate": 1700003550.5,
    "Status": "Completed",
    "JobStatus": 4,
    "ExitCode": 0,
    "Site": "T2_CH_CERN",
    "Tier": "T2",
    "Country": "CH",
    "CMS_Pool": "Global",
    "ScheddName": "vocms0255.cern.ch",
    "Type": "analysis",
    "CRAB_UserHN": "alice",
    "CMSGroups": ["UNKNOWN"],
    "DESIRED_Sites": ["T2_CH_CERN", "T1_US_FNAL"],
    "RequestCpus": 4,
    "CoreHr": 4.0,
    "CpuEff": 87.5,
    "CpuTimeHr": 3.5,
    "WallClockHr": 1.0,
    "MemoryMB": 2300.0,
    "JobFailed": 0,
    "CMSSWDone": True,
    "ChirpCMSSW_SiteIO": [{"SiteName": "T2_CH_CERN", "ChirpString": "cmsRun1", "ReadBytes": 1024, "ReadTimeMS": 30}],
    "metadata": {
        "spider_git_hash": "0123456789ab",
        "spider_hostname": "spider-converter-0",
        "spider_username": "cmsjobmon",
        "spider_runtime": 1700003700123,
        "spider_source": "condor_history",
    },
}


def body_of(doc: dict) -> dict:
    return monit.notification_body(doc, DOC_ID, "condor", DATES)


def test_every_date_field_is_sent_in_milliseconds():
    body = body_of(HISTORY_DOC)

    assert body["RecordTime"] == 1700003600000
    assert body["QDate"] == 1699990000000
    assert body["JobStartDate"] == 1700000000000
    assert body["CompletionDate"] == 1700003600000
    assert body["EnteredCurrentStatus"] == 1700003600000
    assert body["ChirpCMSSWLastUpdate"] == 1700003550500


def test_null_dates_stay_null_and_other_fields_are_unchanged():
    body = body_of(HISTORY_DOC)

    assert body["CRAB_TaskCreationDate"] is None
    for key in ("GlobalJobId", "JobStatus", "CoreHr", "CpuEff", "CMSGroups", "ChirpCMSSW_SiteIO", "CMSSWDone"):
        assert body[key] == HISTORY_DOC[key]


def test_metadata_carries_monit_keys_and_the_spider_metadata():
    assert body_of(HISTORY_DOC)["metadata"] == {
        "producer": "condor",
        "type": "metric",
        "_id": DOC_ID,
        "timestamp": 1700003600000,
        "spider_git_hash": "0123456789ab",
        "spider_hostname": "spider-converter-0",
        "spider_username": "cmsjobmon",
        "spider_runtime": 1700003700123,
        "spider_source": "condor_history",
    }


def test_the_document_itself_is_not_modified():
    doc = copy.deepcopy(HISTORY_DOC)
    body_of(doc)
    assert doc == HISTORY_DOC


def test_document_metadata_cannot_override_monit_reserved_keys():
    doc = {**HISTORY_DOC, "metadata": {"producer": "spoof", "_id": "x", "timestamp": 1, "type": "raw"}}
    metadata = body_of(doc)["metadata"]
    assert (metadata["producer"], metadata["_id"], metadata["timestamp"], metadata["type"]) == (
        "condor",
        DOC_ID,
        1700003600000,
        "metric",
    )


def test_a_document_without_record_time_cannot_become_a_notification():
    doc = {k: v for k, v in HISTORY_DOC.items() if k != "RecordTime"}
    with pytest.raises(monit.NotificationError, match="RecordTime"):
        body_of(doc)


def test_a_date_field_holding_text_is_left_for_validation_to_report():
    body = body_of({**HISTORY_DOC, "QDate": "yesterday"})
    assert body["QDate"] == "yesterday"
    assert monit.BodyValidator.from_schema(SCHEMA).offending_keys(body) == ["QDate"]


def test_stomp_headers_name_the_producer_and_version():
    assert monit.stomp_headers("condor", "1.2.0") == {"producer": "condor", "version": "1.2.0"}


def test_the_committed_schema_is_generated_from_the_registry():
    assert monit.monit_schema(REGISTRY) == SCHEMA, "run `python -m services.sinks.monit` after editing the registry"


def test_the_schema_is_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_a_converted_realistic_document_is_valid():
    body = body_of(HISTORY_DOC)
    jsonschema.Draft202012Validator(SCHEMA).validate(body)
    assert monit.BodyValidator.from_schema(SCHEMA).offending_keys(body) == []


def test_the_schema_accepts_the_value_types_of_the_reference_job_monitoring_example():
    """tests/data/monit/reference_value_types.json holds the field names of the reference's JobMonitoring.json
    with each value replaced by a canonical one of the same JSON type (1, 0.5, "s", true, null, ...)."""
    example = json.loads((DATA / "monit" / "reference_value_types.json").read_text())
    common = sorted(set(example) & set(SCHEMA["properties"]))
    assert len(common) > 200
    validator = jsonschema.Draft202012Validator(SCHEMA)
    disagreements = {key: example[key] for key in common if not validator.is_valid({key: example[key]})}
    assert disagreements == {}


def test_the_fast_validator_reports_exactly_the_keys_json_schema_rejects():
    body = body_of(HISTORY_DOC)
    body.update(
        {
            "JobStatus": "4",  # string in an int field
            "CpuEff": True,  # bool is not a number
            "CoreHr": 4,  # an int is a valid float
            "RequestCpus": 4.0,  # 4.0 is an integer in JSON
            "ExitCode": 2.5,
            "CMSGroups": ["cms", 7],
            "ChirpCMSSW_SiteIO": [{"SiteName": "T2_CH_CERN", "ReadBytes": "1 kB"}],
            "CMSSWDone": 1,
            "SomethingNew": {"any": "thing"},  # unknown keys pass
        }
    )
    json_schema_keys = {e.path[0] for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(body)}

    offending = monit.BodyValidator.from_schema(SCHEMA).offending_keys(body)

    assert (
        set(offending)
        == json_schema_keys
        == {
            "JobStatus",
            "CpuEff",
            "ExitCode",
            "CMSGroups",
            "ChirpCMSSW_SiteIO",
            "CMSSWDone",
        }
    )


BAD = {"JobStatus": "running", "Site": "T2_CH_CERN", "metadata": {"_id": DOC_ID}}


def test_policy_warn_sends_the_body_as_is():
    assert monit.apply_policy(dict(BAD), ["JobStatus"], "warn") == BAD


def test_policy_drop_sends_the_body_without_the_offending_keys():
    assert monit.apply_policy(dict(BAD), ["JobStatus"], "drop") == {"Site": "T2_CH_CERN", "metadata": {"_id": DOC_ID}}


def test_policy_dead_letter_sends_nothing():
    assert monit.apply_policy(dict(BAD), ["JobStatus"], "dead-letter") is None


def test_the_reason_names_keys_and_types_but_not_values():
    reason = monit.describe({"JobStatus": "secret-ish value"}, ["JobStatus"])
    assert reason == "MONIT type mismatch: JobStatus (str)"
