"""Arbitrary ads: a valid document, None, or ConversionError, never any other exception."""

from __future__ import annotations

import jsonschema
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import schemas
from schemas import UNINDEXED_FIELD
from services.common.raw_message import RawAd
from services.converter.convert import ConversionContext, ConversionError, convert
from services.converter.registry import FIELDS
from services.converter.sanitize import unindexable

CONTEXT = ConversionContext(
    affiliations={"jdoe": {"institute": "CERN", "country": "CH", "dn": "/CN=jdoe"}},
    git_hash="g",
    hostname="h",
    username="u",
    converter_version="v",
)
VALIDATOR = jsonschema.Draft202012Validator(schemas.load("document.v1.schema.json"))
NAMES = st.sampled_from(
    [
        *sorted(FIELDS),
        "JobStatus",
        "QDate",
        "GlobalJobId",
        "CMS_Type",
        "CRAB_Id",
        "ExitCode",
        "ChirpCMSSW_cmsRun1_Events",
        "ChirpCMSSW_cmsRun2_Events",
        "ChirpCMSSW_x_IOSite_T2_A_ReadBytes",
        "ChirpCMSSW_x_IOSite_T2_A_ReadTimeMS",
        "MATCH_EXP_JOB_GLIDEIN_CMSSite",
        "MachineAttrMJF_JOB_HS06_JOB0",
        "MachineAttrDIRACBenchmark0",
        "Chirp_WMCore_cmsRun1_Exception_Message",
        "NordugridRSL",
        "CreamAttributes",
        "xcount",
        "TaskType",
    ]
) | st.text(max_size=12)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**62), max_value=2**62)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["/Expr(error)/", "/Expr(time() - QDate)/", "/Expr(1 +)/", "/Expr(undefined)/", "/Expr(x y)/"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)
BASE = st.fixed_dictionaries(
    {
        "GlobalJobId": st.text(min_size=1, max_size=20) | VALUES,
        "JobStatus": st.integers(min_value=0, max_value=7) | VALUES,
        "QDate": st.integers(min_value=0, max_value=4_000_000_000) | VALUES,
    }
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=BASE,
    extra=st.dictionaries(NAMES, VALUES, max_size=25),
    source=st.sampled_from(["condor_queue", "condor_history", "file"]),
)
def test_arbitrary_ads_convert_or_fail_cleanly(base: dict, extra: dict, source: str) -> None:
    raw = RawAd(source=source, pool="Global", schedd="s", collected_at=1701430000.5, ad={**base, **extra})
    try:
        document = convert(raw, CONTEXT)
    except ConversionError:
        return
    if document is None:
        return
    errors = sorted(VALIDATOR.iter_errors(orjson.loads(orjson.dumps(document.body))), key=str)
    assert errors == [], errors[0].message


TEXT_LIMIT = 1024
ODD_NAMES = st.sampled_from(["", " ", "a.b", "_id", "x\x00y", "A" * 257, UNINDEXED_FIELD, "MATCH_EXP_JOB_", "_RAW"])
ODD_TEXTS = st.text(max_size=20) | st.text(min_size=250, max_size=1500) | st.just("ok\x00" * 400)
ODD_VALUES = st.recursive(
    SCALARS | ODD_TEXTS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)


def texts(value):
    """Every text inside a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from texts(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from texts(item)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=BASE, extra=st.dictionaries(NAMES | ODD_NAMES, ODD_VALUES, max_size=25))
def test_documents_hold_no_nul_no_oversized_text_and_no_field_an_index_refuses(base: dict, extra: dict) -> None:
    context = ConversionContext(None, "g", "h", "u", "v", max_text_bytes=TEXT_LIMIT)
    raw = RawAd(source="condor_history", pool="Global", schedd="s", collected_at=1701430000.5, ad={**base, **extra})
    try:
        document = convert(raw, context)
    except ConversionError:
        return
    if document is None:
        return
    kept_names = document.body.pop(UNINDEXED_FIELD, {})
    assert [name for name in document.body if unindexable(name)] == []
    for text in (*texts(document.body), *texts(list(kept_names.values()))):
        assert "\x00" not in text and len(text.encode()) <= TEXT_LIMIT, text[:80]
