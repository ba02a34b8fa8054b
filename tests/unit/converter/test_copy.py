"""The attribute copy: values, field order and twin attributes, whatever ads of the same shape came before."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import UNINDEXED_FIELD
from services.common.raw_message import is_expression
from services.converter import casting
from services.converter.casting import copy_attributes
from services.converter.expressions import JobAd
from services.converter.sanitize import TEXT_LIMIT_BYTES, clean_value

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


TWINS = ["MaxWallTimeMins", "MaxWallTimeMins_RAW", "MATCH_EXP_JOB_MaxWallTimeMins", "ResidentSetSize_RAW"]
NAMES = st.sampled_from([*TWINS, "ResidentSetSize", "CompletionDate", "Owner", "GLIDEIN_ProcId", "JobPrio", "x.y"])
VALUES = st.sampled_from(
    [None, 0, 5, 7.9, True, "12", "two", "/Expr(1 + 1)/", "/Expr(error)/", "a\x00b", [1], {"k": 2}, 2**70]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(NAMES, VALUES), max_size=12, unique_by=lambda item: item[0]))
def test_the_copy_equals_the_copy_one_attribute_after_the_other(items: list) -> None:
    """The copy sets most fields in one pass and the others after the evaluations; the result is that of the plain
    loop over the attributes, texts cleaned first."""
    ad = dict(items)
    fast = copy_attributes(JobAd(dict(ad), NOW), TEXT_LIMIT_BYTES)
    fast_unindexed = fast.pop(UNINDEXED_FIELD, {})
    cleaned = {
        key: value if is_expression(value) else clean_value(key, value, TEXT_LIMIT_BYTES) for key, value in ad.items()
    }
    slow_unindexed = {key: value for key, value in cleaned.items() if key in casting._UNINDEXED}
    slow = casting._copy_in_order(JobAd(cleaned, NOW), slow_unindexed, TEXT_LIMIT_BYTES)
    assert list(fast.items()) == list(slow.items())
    assert fast_unindexed == slow_unindexed


def test_statistics_are_the_chirp_fields_in_the_order_of_the_ad() -> None:
    ad = JobAd({"ChirpCMSSWReadBytes": 5, "Owner": "alice", "ChirpCMSSW_1_ReadBytes": 3}, NOW)
    copy_attributes(ad, TEXT_LIMIT_BYTES)
    assert ad.statistics == ["ChirpCMSSWReadBytes", "ChirpCMSSW_1_ReadBytes"]


def test_the_memo_of_attribute_names_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(casting, "_PLANS_MAX", 50)
    for n in range(200):
        doc = copied({"Owner": "alice", f"Custom{n}": n})
        assert doc == {"Owner": "alice", f"Custom{n}": n}
    assert len(casting._PLANS) <= 50 + 2
