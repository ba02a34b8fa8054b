"""One subtle conversion rule per test, on a minimal ad."""

from __future__ import annotations

import base64
import zlib

import pytest

from services.common.raw_message import RawAd
from services.converter.affiliations import Directory
from services.converter.convert import ConversionContext, ConversionError, convert

NOW = 1701430000.0
CONTEXT = ConversionContext(affiliations=None, git_hash="g", hostname="h", username="u", converter_version="v")


def body(source: str = "condor_history", context: ConversionContext = CONTEXT, **attributes) -> dict:
    ad = {"GlobalJobId": "schedd.cern.ch#1.0#1701400000", "JobStatus": 4, "QDate": 1701400000, **attributes}
    document = convert(RawAd(source=source, pool="Global", schedd="schedd", collected_at=NOW, ad=ad), context)
    return document.body


def test_dag_root_ads_are_dropped() -> None:
    raw = RawAd(source="condor_history", pool=None, schedd=None, collected_at=NOW, ad={"TaskType": "ROOT"})
    assert convert(raw, CONTEXT) is None


@pytest.mark.parametrize(
    ("ad", "reason"),
    [({"JobStatus": 4, "QDate": 1}, "GlobalJobId"), ({"GlobalJobId": "a#1", "QDate": 1}, "JobStatus")],
)
def test_ads_without_identity_raise_conversion_error(ad: dict, reason: str) -> None:
    with pytest.raises(ConversionError, match=reason):
        convert(RawAd(source="condor_history", pool=None, schedd=None, collected_at=NOW, ad=ad), CONTEXT)


def test_queued_job_record_time_is_the_collection_time() -> None:
    assert body("condor_queue", JobStatus=2)["RecordTime"] == int(NOW)


def test_finished_job_record_time_falls_back_to_finished_hook() -> None:
    assert body(JobStatus=3, CompletionDate=0, JobFinishedHookDone=1701420000)["RecordTime"] == 1701420000


def document_id(collected_at: float, source: str = "condor_history", **attributes) -> str:
    ad = {"GlobalJobId": "vocms0155.cern.ch#4242.0#1701400000", "QDate": 1701400000, **attributes}
    raw = RawAd(source=source, pool="Global", schedd="vocms0155.cern.ch", collected_at=collected_at, ad=ad)
    return convert(raw, CONTEXT).id


def test_a_job_removed_before_it_started_keeps_its_id_when_history_is_collected_again() -> None:
    removed = {"JobStatus": 3, "CompletionDate": 0, "EnteredCurrentStatus": 1701405000, "RemoveReason": "via condor_rm"}
    first, again = document_id(1701430000.0, **removed), document_id(1701516400.0, **removed)
    assert first == again == "vocms0155.cern.ch#4242.0#1701400000#1701405000"


def test_a_history_ad_holding_no_other_time_is_recorded_at_its_queue_date() -> None:
    assert document_id(1701430000.0, JobStatus=3).endswith("#1701400000")


def test_a_queued_job_gets_one_document_per_collection() -> None:
    idle = {"JobStatus": 1, "EnteredCurrentStatus": 1701400000}
    assert document_id(1701430000.0, "condor_queue", **idle) != document_id(1701430300.0, "condor_queue", **idle)


def test_match_exp_prefix_and_raw_suffix_are_stripped() -> None:
    doc = body(MATCH_EXP_JOB_GLIDEIN_Memory="2500", ImageSize_RAW=1000)
    assert (doc["GLIDEIN_Memory"], doc["ImageSize"]) == (2500, 1000)
    assert "MATCH_EXP_JOB_GLIDEIN_Memory" not in doc


def test_stripped_spelling_wins_over_the_plain_attribute_whatever_the_order() -> None:
    assert body(ImageSize_RAW=1000, ImageSize=5)["ImageSize"] == 1000


def test_ignored_attributes_are_left_out() -> None:
    assert "Environment" not in body(Environment="A=1")


def test_undefined_becomes_null_and_error_is_left_out() -> None:
    doc = body(Owner=None, BadValue="/Expr(error)/")
    assert doc["Owner"] is None
    assert "BadValue" not in doc


def test_failed_int_cast_keeps_the_value_only_in_the_unindexed_object() -> None:
    doc = body(MaxHosts="two")
    assert "MaxHosts" not in doc
    assert doc["spider_unindexed"] == {"MaxHosts": "two"}


def test_failed_date_cast_gives_null_and_keeps_the_value_unindexed() -> None:
    doc = body(MATCH_EXP_JOB_GLIDEIN_ToDie="tomorrow")
    assert doc["GLIDEIN_ToDie"] is None
    assert doc["spider_unindexed"] == {"MATCH_EXP_JOB_GLIDEIN_ToDie": "tomorrow"}


def test_unknown_int_becomes_null() -> None:
    assert body(JobPrio="Unknown")["JobPrio"] is None


@pytest.mark.parametrize("value", [0, "unknown", "UNKNOWN"])
def test_empty_dates_become_null(value) -> None:
    assert body(LastMatchTime=value)["LastMatchTime"] is None


def test_both_halves_of_the_glued_int_pair_are_ints() -> None:
    doc = body(NumGlobusSubmits="3", NumJobMatches="4")
    assert (doc["NumGlobusSubmits"], doc["NumJobMatches"]) == (3, 4)


def test_disk_suffix_is_removed_not_its_letters() -> None:
    doc = body(MATCH_EXP_JOB_GLIDEIN_CMSSite="T3_US_Baylor_Disk")
    assert (doc["Site"], doc["GLIDEIN_CMSSite"]) == ("T3_US_Baylor", "T3_US_Baylor_Disk")


def test_site_falls_back_to_machine_attributes() -> None:
    assert body(MachineAttrGLIDEIN_CMSSite0="T2_CH_CSCS")["Site"] == "T2_CH_CSCS"


def test_wmcore_exception_message_is_decoded() -> None:
    encoded = base64.b64encode(zlib.compress(b"cmsRun segfault")).decode()
    assert body(Chirp_WMCore_cmsRun1_Exception_Message=encoded)["Chirp_WMCore_cmsRun1_Exception_Message"] == (
        "cmsRun segfault"
    )


def test_expressions_are_evaluated_with_time_as_the_collection_time() -> None:
    assert body(Age="/Expr(time() - QDate)/")["Age"] == int(NOW) - 1701400000


def test_request_cpus_falls_back_to_nordugrid_count() -> None:
    assert body(NordugridRSL="(jobname=x)(count=8)")["RequestCpus"] == 8


def test_request_cpus_falls_back_to_cream_cpu_number() -> None:
    assert body(CreamAttributes="CPUNumber = 4; WholeNodes = false")["RequestCpus"] == 4


def test_running_wall_clock_counts_up_to_the_collection_time() -> None:
    doc = body("condor_history", JobStatus=2, EnteredCurrentStatus=int(NOW) - 7200, RequestCpus=2)
    assert (doc["WallClockHr"], doc["CoreHr"]) == (2.0, 4.0)


def test_running_queue_documents_keep_only_running_fields() -> None:
    doc = body("condor_queue", JobStatus=2, Cmd="/bin/sh")
    assert "Cmd" not in doc and doc["Status"] == "Running"


def test_completed_queue_documents_are_not_reduced() -> None:
    assert body("condor_queue", Cmd="/bin/sh")["Cmd"] == "/bin/sh"


def test_file_source_counts_as_queue_data_for_queued_jobs() -> None:
    assert body("file", JobStatus=1)["metadata"]["spider_source"] == "condor_queue"
    assert body("file", JobStatus=4)["metadata"]["spider_source"] == "condor_history"


def test_production_exit_code_prefers_failed_cmsrun() -> None:
    doc = body(CMS_Type="production", ExitCode=0, Chirp_WMCore_cmsRun_ExitCode=8028)
    assert (doc["ExitCode"], doc["CondorExitCode"], doc["ErrorType"], doc["ErrorClass"]) == (
        8028,
        0,
        "FileOpen",
        "DataAccess",
    )


def test_analysis_exit_code_prefers_job_exit_code() -> None:
    doc = body(CMS_Type="analysis", ExitCode=0, JobExitCode=60324)
    assert (doc["ExitCode"], doc["JobFailed"], doc["ErrorType"]) == (60324, 1, "StageOut")


@pytest.mark.parametrize(
    ("crab_id", "formatted"), [("7", "000007"), ("2-15", "2.000015"), (7, "000007"), ("x-y", "000000")]
)
def test_formatted_crab_id(crab_id, formatted: str) -> None:
    assert body(CRAB_Id=crab_id)["FormattedCrabId"] == formatted


def test_crab_postjob_status_is_decoded_for_completed_jobs() -> None:
    assert body(CRAB_Id="1", CRAB_PostJobStatus="transferring")["CRAB_PostJobStatus"] == "transferring"


def test_running_crab_jobs_report_their_status_as_postjob_status() -> None:
    assert body(JobStatus=2, CRAB_Id="1", CRAB_PostJobStatus="NOT RUN")["CRAB_PostJobStatus"] == "Running"


def test_chirp_steps_are_summed_and_events_maxed() -> None:
    doc = body(
        ChirpCMSSW_cmsRun1_Lumis=3,
        ChirpCMSSW_cmsRun2_Lumis=4,
        ChirpCMSSW_cmsRun1_Events=100,
        ChirpCMSSW_cmsRun2_Events=50,
    )
    assert (doc["ChirpCMSSWLumis"], doc["ChirpCMSSWEvents"], doc["KEvents"]) == (7, 100, 0.1)


def test_chirp_io_site_pairs_become_nested_entries() -> None:
    doc = body(ChirpCMSSW_cmsRun2_IOSite_T1_US_FNAL_ReadBytes=10, ChirpCMSSW_cmsRun2_IOSite_T1_US_FNAL_ReadTimeMS=2)
    assert doc["ChirpCMSSW_SiteIO"] == [
        {"SiteName": "T1_US_FNAL", "ChirpString": "cmsRun2", "ReadBytes": 10, "ReadTimeMS": 2}
    ]


def test_hs06_machine_attribute_is_dropped_without_pilot_cpus() -> None:
    doc = body(MachineAttrMJF_JOB_HS06_JOB0=97.5)
    assert "MachineAttrMJF_JOB_HS06_JOB0" not in doc and "BenchmarkJobHS06" not in doc


def test_singularity_only_when_exactly_true() -> None:
    assert body(MachineAttrHAS_SINGULARITY0=1)["HasSingularity"] is False


def test_affiliation_by_dn_when_no_crab_user() -> None:
    directory = Directory({"jdoe": {"institute": "CERN", "country": "CH", "dn": "/CN=jdoe"}})
    context = ConversionContext(directory, "g", "h", "u", "v")
    doc = body(context=context, x509userproxysubject="/CN=jdoe")
    assert (doc["AffiliationInstitute"], doc["AffiliationCountry"]) == ("CERN", "CH")


def test_wmtool_user_spelling_is_normalised() -> None:
    assert body(CMS_WMTool="USER")["CMS_WMTool"] == "User"


def test_cmssw_version_parsing() -> None:
    doc = body(CRAB_JobSW="CMSSW_13_0_17")
    assert (doc["CMSSWVersion"], doc["CMSSWMajorVersion"], doc["CMSSWReleaseSeries"]) == ("13_0_17", "13_X_X", "13_0_X")


def test_input_data_unknown_site_is_not_offsite() -> None:
    doc = body(JobStatus=3, DESIRED_CMSDataLocations="T2_US_MIT")
    assert "InputData" not in doc and "OverflowType" not in doc
