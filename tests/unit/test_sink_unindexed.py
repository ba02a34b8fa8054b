"""Which fields the search sinks move under spider_unindexed when a cluster refuses a document: the pure rules
of services/sinks/unindexed.py, with errors as Elasticsearch 8.19 and OpenSearch 2.19 word them."""

import pytest

from services.sinks import unindexed
from services.sinks.unindexed import CONFLICT, FIELD_LIMIT, fields_to_move, move

REGISTERED = frozenset({"GlobalJobId", "RequestCpus", "Site", "ChirpCMSSW_SiteIO", "spider_unindexed", "metadata"})
KEYWORD = {"type": "keyword", "ignore_above": 256}

ES_OBJECT_IN_KEYWORD = {
    "type": "document_parsing_exception",
    "reason": "[1:14] failed to parse field [CRAB_UserConfig] of type [keyword] in document with id 'x'. "
    "Preview of field's value: '{Retries=3}'",
    "caused_by": {"type": "illegal_argument_exception", "reason": "Expected text at 1:7 but found START_OBJECT"},
}
OS_VALUE_IN_OBJECT = {
    "type": "mapper_parsing_exception",
    "reason": "object mapping for [GLIDEIN_Resource] tried to parse field [GLIDEIN_Resource] as object, "
    "but found a concrete value",
}
OS_RACE = {
    "type": "illegal_argument_exception",
    "reason": "mapper [JobPrio] cannot be changed from type [long] to [keyword]",
}
OS_MERGE = {
    "type": "illegal_argument_exception",
    "reason": "can't merge a non object mapping [Steps] with an object mapping",
}
ES_FIELD_LIMIT = {
    "type": "document_parsing_exception",
    "reason": "[1:80] failed to parse: Limit of total fields [2000] has been exceeded while adding new fields [9]",
    "caused_by": {
        "type": "illegal_argument_exception",
        "reason": "Limit of total fields [2000] has been exceeded while adding new fields [9]",
    },
}
OS_FIELD_LIMIT = {"type": "illegal_argument_exception", "reason": "Limit of total fields [2000] has been exceeded"}
ES_EMPTY_NAME = {
    "type": "document_parsing_exception",
    "reason": "[1:2] failed to parse: field name cannot be an empty string",
    "caused_by": {"type": "illegal_argument_exception", "reason": "field name cannot be an empty string"},
}
ES_REGISTERED = {
    "type": "document_parsing_exception",
    "reason": "[1:17] failed to parse field [RequestCpus] of type [long] in document with id 'x'. "
    "Preview of field's value: 'many'",
    "caused_by": {"type": "illegal_argument_exception", "reason": 'For input string: "many"'},
}


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ES_OBJECT_IN_KEYWORD, CONFLICT),
        (OS_VALUE_IN_OBJECT, CONFLICT),
        (OS_RACE, CONFLICT),
        (OS_MERGE, CONFLICT),
        (ES_EMPTY_NAME, CONFLICT),
        (ES_FIELD_LIMIT, FIELD_LIMIT),
        (OS_FIELD_LIMIT, FIELD_LIMIT),
        ({"type": "illegal_argument_exception", "reason": "index [cms-2024-03-05] is read-only"}, None),
        ({"type": "version_conflict_engine_exception", "reason": "[x]: version conflict"}, None),
        ("not a mapping", None),
    ],
)
def test_mapping_errors_are_told_from_other_refusals(error, expected):
    assert unindexed.mapping_error(error) == expected


def test_the_field_an_error_names_is_moved_and_nothing_else():
    body = {"GlobalJobId": "a#1", "CRAB_UserConfig": {"Retries": 3}, "JobPrio": 5, "Site": "T2_CH_CERN"}
    assert fields_to_move(body, ES_OBJECT_IN_KEYWORD, {"CRAB_UserConfig": KEYWORD}, REGISTERED) == ["CRAB_UserConfig"]


def test_a_dotted_path_in_the_error_moves_its_top_level_field():
    error = {
        "type": "document_parsing_exception",
        "reason": "[1:40] object mapping for [Extra.Inputs] tried to parse field [Inputs] as object, but found a "
        "concrete value",
    }
    body = {"GlobalJobId": "a#1", "Extra": {"Inputs": "file.root"}, "ExtraCount": 2}
    assert fields_to_move(body, error, {}, REGISTERED) == ["Extra"]


def test_every_shape_conflict_with_the_index_mapping_is_moved_at_once():
    mapped = {
        "GLIDEIN_Resource": {"properties": {"Name": KEYWORD}},
        "JobPrio": KEYWORD,
        "Steps": {"properties": {"cmsRun1": {"properties": {"Events": KEYWORD}}}},
        "Tags": KEYWORD,
    }
    body = {
        "GlobalJobId": "a#1",
        "GLIDEIN_Resource": "T2_US_Nebraska",  # a value where the index has an object
        "JobPrio": {"value": 5},  # an object where the index has a value
        "Steps": {"cmsRun1": {"Events": {"total": 10}}},  # deeper down
        "Tags": ["a", {"b": 1}],  # a list holding an object
        "Fine": {"Any": 1},
    }
    assert fields_to_move(body, OS_VALUE_IN_OBJECT, mapped, REGISTERED) == [
        "GLIDEIN_Resource",
        "JobPrio",
        "Steps",
        "Tags",
    ]


def test_scalars_of_another_json_type_than_the_keyword_or_number_mapping_do_not_conflict():
    number = {"type": "long", "ignore_malformed": True}
    mapped = {"JobPrio": KEYWORD, "Extra": {"properties": {"n": KEYWORD, "m": number}}, "Count": number}
    body = {"JobPrio": True, "Extra": {"n": 2.5, "m": "x"}, "Other": [1, "two", False], "Gone": None, "Count": True}
    assert not any(unindexed.conflicts(value, mapped.get(key)) for key, value in body.items())


def test_a_refusal_on_a_registered_field_moves_nothing():
    body = {"GlobalJobId": "a#1", "RequestCpus": "many", "JobPrio": 5}
    assert fields_to_move(body, ES_REGISTERED, {"JobPrio": KEYWORD}, REGISTERED) == []


@pytest.mark.parametrize("error", [ES_FIELD_LIMIT, OS_FIELD_LIMIT])
def test_at_the_field_limit_the_fields_the_index_does_not_map_yet_are_moved(error):
    mapped = {"GlobalJobId": KEYWORD, "Known": KEYWORD, "Nest": {"properties": {"a": KEYWORD}}}
    body = {
        "GlobalJobId": "a#1",
        "Known": 1,
        "Nest": {"a": 1, "b": 2},  # b is new
        "Nest2": {"a": 1},
        "Brand_New_9": "x",
        "Empty": [],
        "Null": None,
        "RequestCpus": 4,  # registered: never moved, even if the index has no mapping for it yet
    }
    assert fields_to_move(body, error, mapped, REGISTERED) == ["Nest", "Nest2", "Brand_New_9"]


def test_an_error_naming_no_field_moves_every_unregistered_field():
    body = {"GlobalJobId": "a#1", "": 1, "JobPrio": 5, "metadata": {"spider_source": "condor_history"}}
    assert fields_to_move(body, ES_EMPTY_NAME, {}, REGISTERED) == ["", "JobPrio"]


def test_the_last_resort_moves_every_unregistered_field():
    body = {"GlobalJobId": "a#1", "JobPrio": 5, "Tags": ["a"], "Site": "T2_CH_CERN"}
    assert fields_to_move(body, OS_RACE, {}, REGISTERED, last_resort=True) == ["JobPrio", "Tags"]


def test_a_name_already_under_the_unindexed_object_is_never_moved_onto():
    body = {"GlobalJobId": "a#1", "JobPrio": {"v": 1}, "spider_unindexed": {"JobPrio": "kept"}}
    assert fields_to_move(body, OS_RACE, {}, REGISTERED, last_resort=True) == []


def test_moved_fields_are_merged_under_the_unindexed_object_with_what_the_converter_put_there():
    body = {
        "GlobalJobId": "a#1",
        "JobPrio": {"value": 5},
        "Site": "T2_CH_CERN",
        "spider_unindexed": {"a.b": 1, "": "empty name"},
        "Big": 2**80,
    }
    assert move(body, ["JobPrio", "Big"]) == {
        "GlobalJobId": "a#1",
        "Site": "T2_CH_CERN",
        "spider_unindexed": {"a.b": 1, "": "empty name", "JobPrio": {"value": 5}, "Big": 2**80},
    }
