"""Index templates generated from the field-type registry (a small registry of the real file's shape)."""

from services.sinks import templates

SITE_IO = {
    "SiteName": {"type": "string"},
    "ChirpString": {"type": "string"},
    "ReadBytes": {"type": "int"},
    "ReadTimeMS": {"type": "int"},
}
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
        "ChirpCMSSW_SiteIO": {
            "type": "nested",
            "properties": SITE_IO,
            "index": True,
            "analyzed": False,
            "origin": "derived",
        },
        "spider_unindexed": {"type": "object", "index": False, "analyzed": False, "origin": "derived"},
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


def test_fields_marked_not_indexed_are_kept_only_in_the_source():
    props = templates.mappings(REGISTRY)["properties"]
    assert props["Args"] == {"type": "text", "index": False}
    assert props["StartdIpAddr"] == {"type": "keyword", "index": False, "doc_values": False}


def test_a_list_of_objects_is_a_plain_object_with_its_registered_properties_typed():
    """Not `nested`: that would index every list entry as a hidden Lucene document of its own."""
    props = templates.mappings(REGISTRY)["properties"]
    assert props["ChirpCMSSW_SiteIO"] == {
        "type": "object",
        "properties": {
            "ChirpString": {"type": "keyword", "ignore_above": templates.KEYWORD_IGNORE_ABOVE},
            "ReadBytes": {"type": "long"},
            "ReadTimeMS": {"type": "long"},
            "SiteName": {"type": "keyword", "ignore_above": templates.KEYWORD_IGNORE_ABOVE},
        },
    }


def test_the_unindexed_object_is_kept_in_the_source_without_being_parsed():
    props = templates.mappings(REGISTRY)["properties"]
    assert props["spider_unindexed"] == {"type": "object", "enabled": False}


def test_unregistered_numbers_are_numbers_that_take_any_later_scalar_and_other_scalars_keywords():
    """Whatever JSON type a field's first value has, a later scalar of another type cannot be refused: a number
    field ignores (keeps in _source only) what it cannot parse; a keyword takes numbers and bools as text."""
    mapping = templates.mappings(REGISTRY)
    matched = {}
    for entry in mapping["dynamic_templates"]:
        [rule] = entry.values()
        matched[rule["match_mapping_type"]] = rule["mapping"]
    keyword = {"type": "keyword", "ignore_above": templates.DYNAMIC_KEYWORD_IGNORE_ABOVE}
    assert matched == {
        "string": keyword,
        "boolean": keyword,
        "long": {"type": "long", "ignore_malformed": True},
        "double": {"type": "double", "ignore_malformed": True},
    }
    assert mapping["date_detection"] is False
    assert mapping["numeric_detection"] is False


def test_metadata_runtime_is_a_millisecond_date():
    assert templates.mappings(REGISTRY)["properties"]["metadata"]["properties"]["spider_runtime"] == {
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


def test_the_shipped_registry_maps_site_io_as_an_object_and_the_unindexed_field_disabled():
    props = templates.index_template(templates.load_registry(), "cms")["template"]["mappings"]["properties"]
    assert len(props) > 100
    assert props["ChirpCMSSW_SiteIO"]["type"] == "object"
    assert props["ChirpCMSSW_SiteIO"]["properties"]["ReadBytes"] == {"type": "long"}
    assert props["spider_unindexed"] == {"type": "object", "enabled": False}
    assert not any(spec.get("type") == "nested" for spec in props.values())
