"""ClassAd expressions of the raw ad, evaluated the same way in every process."""

from __future__ import annotations

import subprocess
import sys

from services.converter.expressions import ERROR, JobAd


def test_evaluation_does_not_depend_on_what_else_the_process_imported():
    """A fresh interpreter that imports only the converter evaluates like the reference (htcondor loaded):
    stringListMember on an undefined TARGET attribute is false, not error, so Requirements is kept."""
    program = (
        "from services.converter.expressions import JobAd\n"
        "ad = JobAd({'DESIRED_Sites': 'T2_CH_CERN', 'Requirements': "
        "'/Expr(stringListMember(TARGET.GLIDEIN_CMSSite,DESIRED_Sites) && (TARGET.Arch == \"X86_64\"))/'}, 0)\n"
        "print(ad.evaluate('Requirements'))\n"
    )
    fresh = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert fresh.stdout.strip() == "False"


def _job(**attributes: object) -> dict[str, object]:
    """A job ad in the raw message's JSON form, with the CMS memory expressions."""
    ad: dict[str, object] = {
        "GlobalJobId": "vocms0199.cern.ch#123.0#1700000000",
        "RequestCpus": 4,
        "ResidentSetSize": 2_500_000,
        "MemoryUsage": "/Expr(((ResidentSetSize + 1023) / 1024))/",
        "RequestMemory": "/Expr(ifThenElse(MemoryUsage isnt undefined,max({ 2000,MemoryUsage * 3 / 2 }),2000))/",
        "DESIRED_Sites": "T2_CH_CERN,T1_US_FNAL",
        "Requirements": "/Expr(stringListMember(TARGET.GLIDEIN_CMSSite,DESIRED_Sites) && TARGET.Cpus >= RequestCpus)/",
    }
    ad.update(attributes)
    return ad


def _one_by_one(raw: dict[str, object], names: tuple[str, ...]) -> dict[str, object]:
    ad = JobAd(raw, 1_700_000_600)
    return {name: ad.evaluate(name) for name in names}


def _together(raw: dict[str, object], names: tuple[str, ...], memo: dict | None = None) -> dict[str, object]:
    ad = JobAd(raw, 1_700_000_600)
    ad.evaluate_together(names, memo)
    return {name: ad.evaluate(name) for name in names}


NAMES = ("MemoryUsage", "Requirements", "RequestMemory")


def test_expressions_evaluated_together_have_their_own_values():
    assert (
        _together(_job(), NAMES)
        == _one_by_one(_job(), NAMES)
        == {
            "MemoryUsage": 2442,
            "Requirements": False,
            "RequestMemory": 3663,
        }
    )


def test_memoised_evaluation_uses_each_ads_own_literals():
    memo: dict = {}
    _together(_job(), NAMES, memo)
    assert _together(_job(ResidentSetSize=1_000_000), NAMES, memo)["RequestMemory"] == 2000
    assert _together(_job(ResidentSetSize=None), NAMES, memo) == {
        "MemoryUsage": None,
        "Requirements": False,
        "RequestMemory": 2000,
    }


def test_memoised_evaluation_notices_a_different_expression_text():
    memo: dict = {}
    _together(_job(), NAMES, memo)
    changed = _job(MemoryUsage="/Expr(ResidentSetSize / 1000)/")
    assert _together(changed, NAMES, memo) == _one_by_one(changed, NAMES)
    assert _together(changed, NAMES, memo)["MemoryUsage"] == 2500


def test_memoised_evaluation_notices_a_literal_that_became_an_expression():
    memo: dict = {}
    _together(_job(), NAMES, memo)
    changed = _job(ResidentSetSize="/Expr(2 * 1024 * 1024)/")
    assert _together(changed, NAMES, memo)["MemoryUsage"] == 2048


def test_time_calls_use_each_messages_collection_time():
    raw = _job(Age="/Expr(time() - 1700000000)/")
    memo: dict = {}
    first = JobAd(raw, 1_700_000_600)
    first.evaluate_together(("Age",), memo)
    later = JobAd(raw, 1_700_000_900)
    later.evaluate_together(("Age",), memo)
    assert (first.evaluate("Age"), later.evaluate("Age")) == (600, 900)


def test_an_expression_that_does_not_parse_is_an_error_and_the_others_keep_their_values():
    raw = _job(Broken="/Expr(1 +* 2)/")
    assert _together(raw, ("Broken", "MemoryUsage")) == {"Broken": ERROR, "MemoryUsage": 2442}


def test_an_attribute_name_classad_refuses_makes_the_expressions_errors_not_a_crash():
    raw = _job(**{"Bad\x00Name": "/Expr(1 + 1)/"})
    memo: dict = {}
    for _ in range(2):  # first ad, then the memo's path
        assert _together(raw, ("Bad\x00Name", "MemoryUsage"), memo) == {"Bad\x00Name": ERROR, "MemoryUsage": ERROR}
