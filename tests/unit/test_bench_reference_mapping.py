"""The reference system's mapping that bench/sink_throughput compares spider's index cost against, built from the
real field registry's record of the reference's attribute lists."""

import pytest

from bench import reference_mapping
from services.sinks import templates


@pytest.fixture(scope="module")
def properties():
    return reference_mapping.mappings(templates.load_registry())["properties"]


@pytest.mark.parametrize(
    ("field", "mapping"),
    [
        ("RequestCpus", {"type": "long"}),
        ("QDate", {"type": "date", "format": "epoch_second"}),
        ("HasSingularity", {"type": "boolean"}),
        ("Args", {"type": "text", "index": False}),
        ("ShouldTransferFiles", {"type": "keyword"}),
    ],
)
def test_fields_of_one_reference_list_get_that_lists_type(properties, field, mapping):
    assert properties[field] == mapping


@pytest.mark.parametrize(
    ("field", "mapping"),
    [
        ("CurrentHosts", {"type": "long"}),  # int, no_idx and no_analysis: those two only apply to strings
        ("MaxHosts", {"type": "long"}),  # int and no_idx
        ("GLIDEIN_ToDie", {"type": "date", "format": "epoch_second"}),  # int and date: date comes later
    ],
)
def test_a_later_reference_list_overrides_an_earlier_one(properties, field, mapping):
    assert properties[field] == mapping


@pytest.mark.parametrize("field", ["Site", "CpuEff", "ChirpCMSSW_SiteIO"])
def test_plain_strings_derived_values_and_site_io_are_left_to_dynamic_mapping(properties, field):
    assert field not in properties


def test_dynamic_strings_are_short_keywords_without_norms_and_dates_are_still_detected():
    mappings = reference_mapping.mappings(templates.load_registry())
    [template] = mappings["dynamic_templates"]
    assert template["strings_as_keywords"] == {
        "match_mapping_type": "string",
        "mapping": {"type": "keyword", "norms": False, "ignore_above": 256},
    }
    assert "date_detection" not in mappings


def test_template_covers_the_daily_indices_with_the_field_limit_and_replicas_asked():
    body = reference_mapping.index_template(templates.load_registry(), "bench-ref", replicas=0)
    assert body["index_patterns"] == ["bench-ref-*"]
    assert body["template"]["settings"]["index"] == {
        "mapping": {"total_fields": {"limit": 2000}},
        "number_of_replicas": 0,
    }
    assert body["template"]["mappings"]["properties"]["metadata"] == {
        "properties": {"spider_runtime": {"type": "date", "format": "epoch_millis"}}
    }
