"""The attribute copy: values, field order and twin attributes, whatever ads of the same shape came before."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import UNINDEXED_FIELD
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
    """The copy takes C-level shortcuts (plain copies in bulk, twins fixed up afterwards); the result is that of
    the plain loop over the attributes, texts cleaned first."""
    ad = dict(items)
    fast = copy_attributes(JobAd(dict(ad), NOW), TEXT_LIMIT_BYTES)
    fast_unindexed = fast.pop(UNINDEXED_FIELD, {})
    slow_ad = JobAd(dict(ad), NOW)
    copy = casting._Copy(slow_ad.raw, casting._Layout(tuple(ad), ad))
    copy.drop_plain_twins()
    texts = [i for i, value in enumerate(copy.values) if copy.names[i] and isinstance(value, str | list | dict)]
    values = casting._cleaned(slow_ad, copy, texts, TEXT_LIMIT_BYTES)
    odd = {key: value for key, value in ad.items() if key in casting._UNINDEXED}
    slow_unindexed = {key: clean_value(key, value, TEXT_LIMIT_BYTES) for key, value in odd.items()}
    slow = casting._copy_in_order(slow_ad, copy, values, slow_unindexed, TEXT_LIMIT_BYTES)
    assert list(fast.items()) == list(slow.items())
    assert fast_unindexed == slow_unindexed


def test_attribute_lists_seen_once_are_not_kept() -> None:
    casting._forget()
    for n in range(300):
        copied({"Owner": "alice", f"Custom{n}": n, "JobPrio": 0})
    assert len(casting._LAYOUTS) == 0
    copied({"Owner": "alice", "Custom7": 7, "JobPrio": 0})
    assert len(casting._LAYOUTS) == 1
