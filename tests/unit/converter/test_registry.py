"""The registry, the document schema and the converter agree."""

from __future__ import annotations

import golden
import jsonschema
import pytest

import schemas
from schemas import generate
from services.converter.registry import FIELDS
from services.converter.sanitize import unindexable

_PYTHON_TYPES = {"string": str, "int": int, "date": int, "float": float, "bool": bool, "object": dict, "nested": list}


def test_committed_document_schema_is_generated_from_the_registry() -> None:
    assert (schemas.SCHEMA_DIR / "document.v1.schema.json").read_bytes() == generate.render()


def test_no_registered_name_is_one_an_index_cannot_hold() -> None:
    assert [name for name in FIELDS if unindexable(name)] == []


def test_every_derived_field_has_a_description() -> None:
    assert [name for name, spec in FIELDS.items() if spec["origin"] == "derived" and not spec.get("description")] == []


@pytest.mark.parametrize("name", golden.names())
def test_golden_documents_validate_against_the_schema(name: str) -> None:
    jsonschema.validate(golden.converted(name).body, schemas.load("document.v1.schema.json"))


@pytest.mark.parametrize("name", golden.names())
def test_every_registered_field_has_its_registry_type(name: str) -> None:
    body = golden.converted(name).body
    wrong = {}
    for field, value in body.items():
        spec = FIELDS.get(field)
        if spec is None or value is None:
            continue
        expected = list if spec.get("array") else _PYTHON_TYPES[spec["type"]]
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if not ok:
            wrong[field] = value
    assert wrong == {}


def test_derived_fields_emitted_by_the_converter_are_registered() -> None:
    emitted = set().union(*(golden.converted(name).body for name in golden.names()))
    copied = set().union(*(golden.raw_ad_names(name) for name in golden.names()))
    assert sorted(emitted - copied - set(FIELDS) - {"metadata"}) == []
