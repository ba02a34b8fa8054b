"""The attribute copy: values, field order and twin attributes, whatever ads of the same shape came before."""

from __future__ import annotations

from services.converter.casting import copy_attributes
from services.converter.expressions import JobAd
from services.converter.sanitize import TEXT_LIMIT_BYTES

NOW = 1701430000


def copied(ad: dict) -> dict:
    return copy_attributes(JobAd(ad, NOW), TEXT_LIMIT_BYTES)


def test_fields_keep_the_order_of_the_ad() -> None:
    doc = copied({"Owner": "alice", "MaxWallTimeMins": 5, "JobPrio": 0})
    assert list(doc) == ["Owner", "MaxWallTimeMins", "JobPrio"]


def test_stripped_twin_replaces_the_plain_value_in_place() -> None:
    doc = copied({"Owner": "alice", "MaxWallTimeMins": 5, "JobPrio": 0, "MaxWallTimeMins_RAW": 1000})
    assert list(doc.items()) == [("Owner", "alice"), ("MaxWallTimeMins", 1000), ("JobPrio", 0)]


def test_stripped_twin_that_is_an_error_leaves_the_field_out() -> None:
    assert "MaxWallTimeMins" not in copied({"MaxWallTimeMins": 5, "JobPrio": 0, "MaxWallTimeMins_RAW": "/Expr(error)/"})


def test_plain_twin_that_is_an_error_gives_the_field_the_stripped_twins_place() -> None:
    doc = copied({"Owner": "alice", "MaxWallTimeMins": "/Expr(error)/", "JobPrio": 0, "MaxWallTimeMins_RAW": 1000})
    assert list(doc.items()) == [("Owner", "alice"), ("JobPrio", 0), ("MaxWallTimeMins", 1000)]


def test_ads_of_one_shape_are_cast_by_their_own_values() -> None:
    shape = ("GlobalJobId", "CompletionDate", "MaxWallTimeMins", "Requirements")
    first = copied(dict(zip(shape, ("s#1.0#1", 1701420000, 5, "/Expr(1 + 1)/"), strict=True)))
    second = copied(dict(zip(shape, ("s#1.1#1", 0, "12", "/Expr(error)/"), strict=True)))
    third = copied(dict(zip(shape, ("s#1.2#1", 1701420001, 7.9, True), strict=True)))
    assert first == {"GlobalJobId": "s#1.0#1", "CompletionDate": 1701420000, "MaxWallTimeMins": 5, "Requirements": 2}
    assert second == {"GlobalJobId": "s#1.1#1", "CompletionDate": None, "MaxWallTimeMins": 12}
    assert third == {"GlobalJobId": "s#1.2#1", "CompletionDate": 1701420001, "MaxWallTimeMins": 7, "Requirements": True}
