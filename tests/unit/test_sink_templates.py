"""Index templates generated from the field-type registry (a small registry of the real file's shape)."""

from services.sinks import templates

REGISTRY = {
    "version": 1,
    "fields": {
        "RequestCpus": {"type": "int", "index": True, "analyzed": False, "origin": "classad"},
        "CpuEff": {"type": "float", "index": True, "analyzed": False, "origin": "derived"},
        "QDate": {"type": "date", "index": True, "analyzed": False, "origin": "classad"},
        "CRAB_Retry_Ok": {"type": "bool", "index": True, "analyzed": False, "origin": "derived"},
        "Site": {"type": "string", "index": True, "analyzed": False, "origin": "derived"},
        "Args": {"type": "string", "index": False, "analyzed": True, "origin": "classad"},
        "StartdIpAddr": {"type": "string", "index": False, "analyzed": False, "origin": "classad"},
        "Steps": {"type": "nested", "index": True, "analyzed": False, "origin": "derived"},
    },
    "ignored": ["Environment"],
    "running_fields": ["RequestCpus", "Site"],
}


def test_registry_types_map_to_search_types():
    props = templates.mappings(REGISTRY)["properties"]
    assert props["RequestCpus"] == {"type": "long"}
    assert props["CpuEff"] == {"type": "double"}
    assert props["QDate"] == {"type": "date", "format": "epoch_second"}
    assert props["CRAB_Retry_Ok"] == {"type": "boolean"}
    assert props["Site"] == {"type": "keyword", "ignore_above": templates.KEYWORD_IGNORE_ABOVE}
    assert props["Steps"] == {"type": "nested"}


def test_fields_marked_not_indexed_are_kept_only_in_the_source():
    props = templates.mappings(REGISTRY)["properties"]
    assert props["Args"] == {"type": "text", "index": False}
    assert props["StartdIpAddr"] == {"type": "keyword", "index": False, "doc_values": False}


def test_other_strings_become_keywords_and_metadata_runtime_is_a_millisecond_date():
    mapping = templates.mappings(REGISTRY)
    [dynamic] = mapping["dynamic_templates"]
    assert dynamic["strings_as_keywords"]["match_mapping_type"] == "string"
    assert dynamic["strings_as_keywords"]["mapping"]["type"] == "keyword"
    assert mapping["properties"]["metadata"]["properties"]["spider_runtime"] == {
        "type": "date",
        "format": "epoch_millis",
    }


def test_the_template_covers_the_daily_indices_of_its_prefix_with_the_field_limit():
    body = templates.index_template(REGISTRY, "cms", priority=150, shards=2, replicas=1)
    assert body["index_patterns"] == ["cms-*"]
    assert body["priority"] == 150
    assert body["template"]["settings"]["index"] == {
        "mapping": {"total_fields": {"limit": 2000}},
        "number_of_shards": 2,
        "number_of_replicas": 1,
    }


def test_the_shipped_registry_generates_a_template():
    body = templates.index_template(templates.load_registry(), "cms")
    assert len(body["template"]["mappings"]["properties"]) > 100
