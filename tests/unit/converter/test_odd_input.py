"""What ads from outside HTCondor's usual output become (issue 13): odd attribute names, NUL characters, numbers
beyond 64 bits, oversized text. Each rule: what the document holds, and the warning that says so."""

from __future__ import annotations

import base64
import logging
import zlib

import orjson
import pytest

from schemas import RAW_AD_SCHEMA, UNINDEXED_FIELD
from services.common.dead_letter import Origin
from services.common.raw_message import RawAd
from services.converter import ratelimit
from services.converter.convert import ConversionContext, convert
from services.converter.pipeline import Converted, step

NOW = 1701430000.0
CONTEXT = ConversionContext(affiliations=None, git_hash="g", hostname="h", username="u", converter_version="v")
SMALL = ConversionContext(None, "g", "h", "u", "v", max_text_bytes=1024)
JOB = {"GlobalJobId": "vocms0155.cern.ch#4242.0#1701400000", "JobStatus": 4, "QDate": 1701400000, "Owner": "jdoe"}
TWO_TO_THE_80 = "1208925819614629174706176"


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> pytest.LogCaptureFixture:
    """The converter's warnings, none rate-limited away by an earlier test."""
    monkeypatch.setattr(ratelimit, "_last", {})
    caplog.set_level(logging.WARNING, logger="services.converter")
    return caplog


def body(context: ConversionContext = CONTEXT, **attributes) -> dict:
    raw = RawAd(source="condor_history", pool="Global", schedd="vocms0155", collected_at=NOW, ad={**JOB, **attributes})
    return convert(raw, context).body


def from_json(ad_json: bytes) -> dict:
    """The document of an ad whose JSON is written by hand, as a producer other than HTCondor may write it."""
    envelope = {"schema": RAW_AD_SCHEMA, "source": "condor_history", "collected_at": NOW, "ad": {}}
    value = orjson.dumps(envelope).replace(b'"ad":{}', b'"ad":' + ad_json)
    outcome = step(value, CONTEXT, Origin(), {"name": "converter"})
    assert isinstance(outcome, Converted), outcome
    return orjson.loads(outcome.value)


@pytest.mark.parametrize(
    "name",
    [
        "",
        " ",
        "CRAB.Workflow",
        "Bad\x00Name",
        "Line\nBreak",
        "Del\x7f",
        "_id",
        "_MyPrivateAttr",
        "A" * 257,
        "é" * 129,  # 258 bytes in UTF-8
        UNINDEXED_FIELD,
    ],
)
def test_a_name_no_index_can_hold_is_kept_with_its_value_in_the_unindexed_object(name: str) -> None:
    doc = body(**{name: "/Expr(RequestCpus * 2)/"})
    assert name not in doc or name == UNINDEXED_FIELD
    assert doc[UNINDEXED_FIELD] == {name: "/Expr(RequestCpus * 2)/"}  # not evaluated, not cast


def test_odd_names_of_one_ad_each_keep_their_own_value() -> None:
    doc = body(**{"a.b": 1, "": [True, "x"], "_x": {"k": 2.5}, "MATCH_EXP_JOB_": "s"})
    assert doc[UNINDEXED_FIELD] == {"a.b": 1, "": [True, "x"], "_x": {"k": 2.5}, "MATCH_EXP_JOB_": "s"}


@pytest.mark.parametrize("name", ["A" * 256, "é" * 128, "Name With Spaces", "CRAB_UserHN"])
def test_a_name_an_index_can_hold_stays_a_field(name: str) -> None:
    doc = body(**{name: "x"})
    assert doc[name] == "x"
    assert UNINDEXED_FIELD not in doc


def test_nul_characters_are_removed_from_texts_wherever_they_are(warnings) -> None:
    doc = body(Owner="jd\x00oe", CustomTag="a\x00b", CustomList=["x\x00", {"k\x00": "v\x00"}], **{"a.b": "c\x00"})
    assert (doc["Owner"], doc["CustomTag"], doc["CustomList"]) == ("jdoe", "ab", ["x", {"k": "v"}])
    assert doc[UNINDEXED_FIELD] == {"a.b": "c"}
    assert "Owner: 1 NUL characters removed from a text" in warnings.messages


def test_a_nul_in_a_number_text_is_removed_before_the_cast() -> None:
    assert body(MaxHosts="2\x00")["MaxHosts"] == 2


def test_an_integer_beyond_64_bits_is_kept_unindexed_and_request_cpus_falls_back_to_one(warnings) -> None:
    doc = from_json(orjson.dumps(JOB)[:-1] + b',"RequestCpus":' + TWO_TO_THE_80.encode() + b"}")
    assert doc["RequestCpus"] == 1
    assert doc[UNINDEXED_FIELD] == {"RequestCpus": 1.2089258196146292e24}
    assert warnings.messages == [
        "cannot convert RequestCpus=1.2089258196146292e+24 to a 64-bit int; left out, value kept in spider_unindexed",
        "CPU count 1.2089258196146292e+24 is not a 64-bit number; RequestCpus set to 1",
    ]


def test_an_expression_with_an_integer_literal_beyond_64_bits_is_an_error(warnings) -> None:
    doc = body(RequestMemory=f"/Expr({TWO_TO_THE_80} * 2)/", DiskRequest=f"/Expr({TWO_TO_THE_80})/")
    assert doc["RequestMemory_Eval"] is None
    assert "DiskRequest" not in doc
    assert f"RequestMemory: integer literal beyond 64 bits in /Expr({TWO_TO_THE_80} * 2)/; evaluated as error" in (
        warnings.messages
    )


def test_long_digits_inside_a_string_literal_are_text_not_a_number() -> None:
    assert body(Tag=f'/Expr(strcat("run-", "{TWO_TO_THE_80}"))/')["Tag"] == f"run-{TWO_TO_THE_80}"


def test_64_bit_arithmetic_wraps_around_as_in_htcondor() -> None:
    assert body(Counter="/Expr(9223372036854775807 + 1)/")["Counter"] == -(2**63)


def test_a_text_over_the_limit_is_cut_and_ends_with_a_marker(warnings) -> None:
    args = "--input=/store/data/Run2023D/file.root " * 100  # 3,900 bytes
    doc = body(SMALL, Args=args)
    marker = "...[truncated by spider: 3900 bytes]"
    assert doc["Args"] == args[: 1024 - len(marker)] + marker
    assert "Args: text of 3900 bytes truncated to 1024 (max_text_bytes)" in warnings.messages


def test_a_cut_never_splits_a_character() -> None:
    doc = body(SMALL, Comment="ü€😀" * 400)  # 9 bytes per repeat
    cut = doc["Comment"].encode()
    assert len(cut) <= 1024
    assert doc["Comment"].startswith("ü€😀" * 100)
    assert doc["Comment"].endswith("...[truncated by spider: 3600 bytes]")


def test_a_text_at_the_limit_is_kept_whole() -> None:
    assert body(SMALL, Args="x" * 1024)["Args"] == "x" * 1024


def test_the_limit_applies_inside_lists_unindexed_values_and_evaluated_texts() -> None:
    long = "T2_CH_CERN," * 200
    doc = body(SMALL, SiteList=[long], **{"odd.name": long}, Joined=f'/Expr(strcat("{long}", "x"))/')
    for value in (doc["SiteList"][0], doc[UNINDEXED_FIELD]["odd.name"], doc["Joined"]):
        assert len(value.encode()) <= 1024 and value.endswith("bytes]")


def test_texts_the_rules_derive_from_a_list_are_cut_too() -> None:
    """A list's texts are each within the limit, but written out (quotes, escapes) the list is longer."""
    long = ["\x1f" * 300]  # each control character is written \x1f
    doc = body(SMALL, CMS_JobType="Production", WMAgent_RequestName=long, ChirpCMSSWCPUModels=long)
    for field in ("Workflow", "CPUModel", "CPUModelName", "Processor"):
        assert len(doc[field].encode()) <= 1024 and doc[field].endswith("bytes]"), field


def test_a_decoded_exception_message_is_cut_after_decoding() -> None:
    message = "cmsRun exception: " + "stack frame\n" * 1000
    encoded = base64.b64encode(zlib.compress(message.encode())).decode()  # ~250 bytes compressed
    doc = body(SMALL, Chirp_WMCore_cmsRun1_Exception_Message=encoded)
    assert doc["Chirp_WMCore_cmsRun1_Exception_Message"].startswith("cmsRun exception: stack frame\n")
    assert doc["Chirp_WMCore_cmsRun1_Exception_Message"].endswith(f"[truncated by spider: {len(message)} bytes]")


def test_the_default_limit_keeps_an_ordinary_long_environment() -> None:
    environment = " ".join(f"VAR{i}=/cvmfs/cms.cern.ch/some/path/{i}" for i in range(400))  # ~15 KB
    assert body(CustomEnvironment=environment)["CustomEnvironment"] == environment
