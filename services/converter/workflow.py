"""What kind of job this is: Type, CMS_JobType, TaskType, Campaign, Workflow, CMS_WMTool...

Derived from CMS_Type/CMS_JobType and, for production, from WMAgent_RequestName and
WMAgent_SubTaskName (reference `guessTaskType`, `guessCampaign`, `guess_campaign_type`,
`guessWorkflow`). An undefined attribute counts as absent.
"""

from __future__ import annotations

import re
from typing import Any

from services.converter.expressions import JobAd


def is_analysis(ad: JobAd) -> bool:
    """CRAB and CMS Connect jobs: CMS_Type 'analysis' (any case) or CMS_JobType 'Analysis'."""
    return ad.text("CMS_Type", "unknown").lower() == "analysis" or ad.get("CMS_JobType") == "Analysis"


def subtask(ad: JobAd) -> str:
    """Last element of WMAgent_SubTaskName ('UNKNOWN' when absent)."""
    return ad.text("WMAgent_SubTaskName", "/UNKNOWN").rsplit("/", 1)[-1]


_TWO_DIGITS_DR = re.compile(r"[1-9][0-9]DR")
_TWO_DIGITS_GS = re.compile(r"[1-9][0-9]GS")


def guess_task_type(ad: JobAd) -> str:
    job_type = ad.text("CMS_JobType", "UNKNOWN")
    if job_type == "Processing":
        return "DataProcessing"
    if job_type != "Production":
        return job_type
    task = subtask(ad)
    parts = task.split("-")
    campaign_hint = parts[1] if len(parts) > 1 else task
    if "CleanupUnmerged" in task:
        return "Cleanup"
    if "Merge" in task:
        return "Merge"
    if "LogCollect" in task:
        return "LogCollect"
    if "MiniAOD" in task or ("MiniAOD" in ad.text("WMAgent_RequestName", "UNKNOWN") and task == "StepOneProc"):
        return "MINIAOD"
    if task == "StepOneProc" and _TWO_DIGITS_DR.search(campaign_hint):
        return "DIGIRECO"
    if _TWO_DIGITS_GS.search(campaign_hint) and task.endswith("_0"):
        return "GENSIM"
    if task.endswith("_0"):
        return "DIGI"
    if task.endswith("_1") or task.lower() == "reco":
        return "RECO"
    if task == "MonteCarloFromGEN":
        return "GENSIM"
    return "UNKNOWN"


_CAMPAIGN_TYPES = (
    (re.compile(r".*(RunIISummer([12])[0-9]UL|_UL[0-9]+).*"), "MC Ultralegacy"),
    (re.compile(r".*UltraLegacy.*"), "Data Ultralegacy"),
    (re.compile(r".*Phase2.*"), "Phase2 requests"),
    (re.compile(r".*(Run3|RunIII).*"), "Run3 requests"),
    (re.compile(r".*RVCMSSW.*"), "RelVal"),
    (re.compile(r".*(RunII|(Summer|Fall|Autumn|Winter|Spring)(1[5-9]|20)).*"), "Run2 requests"),
    (re.compile(r".*SnowmassWinter21.*"), "SnowmassWinter21"),
)


def campaign_type(ad: JobAd, analysis: bool) -> str:
    """Campaign class per CMSMONIT-174; the order matters (UL before Run2)."""
    if analysis:
        return "Analysis"
    request = ad.text("WMAgent_RequestName", "UNKNOWN")
    for pattern, kind in _CAMPAIGN_TYPES:
        if pattern.match(request):
            return kind
    return "UNKNOWN"


_CAMPAIGN = re.compile(r"[A-Za-z0-9_]+_[A-Z0-9]+-([A-Za-z0-9]+)-")
_RERECO = re.compile(r"[A-Za-z0-9_]+_Run20[A-Za-z0-9-_]+-([A-Za-z0-9]+)")


def campaign(ad: JobAd, analysis: bool, kind: str) -> str:
    named = ad.get("CMS_CampaignName")
    if named:
        return named if isinstance(named, str) else str(named)
    if analysis:
        return "crab_" + ad.text("CRAB_UserHN", "UNKNOWN")
    request = ad.text("WMAgent_RequestName", "UNKNOWN")
    for prefix in ("PromptReco", "Repack", "Express"):
        if request.startswith(prefix):
            return prefix
    if "RVCMSSW" in request:
        return "RelVal"
    match = _CAMPAIGN.match(request)
    if match:
        return match.group(1)
    match = _RERECO.match(request)
    if match and "DataProcessing" in ad.text("WMAgent_SubTaskName", ""):
        return match.group(1) + "Reprocessing"
    return kind


_PREP_ID = re.compile(r"[A-Za-z0-9_]+_([A-Z]+-([A-Za-z0-9]+)-[0-9]+)")
_PROMPT = re.compile(r"(PromptReco|Repack|Express)_[A-Za-z0-9]+_([A-Za-z0-9]+)")
_RELVAL = re.compile(r"[A-Za-z0-9]+_(RVCMSSW_[0-9]+_[0-9]+_[0-9]+)")


def workflow(ad: JobAd, analysis: bool) -> str:
    if analysis:
        return ad.text("CRAB_Workflow", "UNKNOWN").split(":", 1)[-1]
    request = ad.text("WMAgent_RequestName", "UNKNOWN")
    match = _PREP_ID.match(request)
    if match:
        return match.group(1)
    match = _PROMPT.match(request)
    if match:
        return match.group(1) + "_" + match.group(2)
    match = _RELVAL.match(request)
    if match:
        return match.group(1)
    return request


def task_type(result: dict[str, Any], ad: JobAd, analysis: bool, job_type: str) -> str:
    extended = result.get("CMS_extendedJobType")
    if extended is not None and extended != "UNKNOWN":
        return extended
    if result.get("CMS_TaskType") is not None:
        return result["CMS_TaskType"]
    return job_type if analysis else guess_task_type(ad)


def wm_tool(result: dict[str, Any]) -> str:
    """CMS_WMTool, normalising any spelling of 'user' (old CRAB tasks wrote it in lower case)."""
    tool = result.get("CMS_WMTool")
    if tool is None:
        tool = "User" if result.get("CMS_SubmissionTool") == "InstitutionalSchedd" else "UNKNOWN"
    tool = tool if isinstance(tool, str) else str(tool)
    return "User" if tool.lower() == "user" else tool


def workflow_fields(result: dict[str, Any], ad: JobAd, analysis: bool) -> dict[str, Any]:
    job_type = ad.text("CMS_JobType", "Analysis" if analysis else "Unknown")
    kind = campaign_type(ad, analysis)
    return {
        "task": None if ad.get("WMAgent_SubTaskName") is None else ad.text("WMAgent_SubTaskName", ""),
        "CMS_JobType": job_type,
        "CRAB_AsyncDest": ad.text("CRAB_AsyncDest", "Unknown"),
        "WMAgent_TaskType": subtask(ad),
        "CMS_CampaignType": kind,
        "Campaign": campaign(ad, analysis, kind),
        "TaskType": task_type(result, ad, analysis, job_type),
        "Workflow": workflow(ad, analysis),
    }
