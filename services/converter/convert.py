"""One raw ad -> one document: the CMS conversion rules composed in the reference's order.

Pure: the output depends only on the message and the context (no clock, no files, no globals that
change the result), so converting a message twice gives byte-identical documents. Everything that
depends on "now" uses the message's collection time. The rules themselves live in the topic modules
(casting, workflow, exit_codes, resources, sites, crab, chirp, cmssw, machine, affiliations).
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.common.raw_message import RawAd
from services.converter import chirp, cmssw, crab, exit_codes, machine, resources, sites, workflow
from services.converter.affiliations import affiliation_fields
from services.converter.casting import copy_attributes, request_memory_eval
from services.converter.expressions import JobAd
from services.converter.registry import RUNNING_FIELDS
from services.converter.sanitize import TEXT_LIMIT_BYTES, clean_text, clean_value
from services.converter.values import integer, number

FINISHED = (3, 4, 6)  # Removed, Completed, Error
STILL_QUEUED = ("Running", "Idle", "Held")
QUEUE, HISTORY = "condor_queue", "condor_history"
_READ_BY_RULES = ("RequestMemory", "RequestCpus")  # evaluated with the copied expressions, in one ClassAd
_END_TIMES = ("CompletionDate", "JobFinishedHookDone")
_HISTORY_TIMES = (*_END_TIMES, "EnteredCurrentStatus", "QDate")  # QDate is required: the chain always ends


class ConversionError(ValueError):
    """The ad cannot become a document (the reason says why); it belongs in the dead-letter topic."""


@dataclass(frozen=True, slots=True)
class ConversionContext:
    affiliations: Mapping[str, dict] | None
    git_hash: str
    hostname: str
    username: str
    converter_version: str
    reduce_running: bool = True
    max_text_bytes: int = TEXT_LIMIT_BYTES  # longer texts are cut (sanitize.clean_text)


@dataclass(slots=True)  # not frozen: one per message, and a frozen init costs a call per field
class Document:
    id: str
    index_date: str
    source: str
    body: dict[str, Any]


def record_time(ad: JobAd, now: int, source: str) -> int:
    """The time the document records, part of its id.

    Queue documents are snapshots: a finished job's end (CompletionDate, else JobFinishedHookDone), else the
    collection time, so each collection of a job still queued is a document of its own. A history ad no longer
    changes, so its time comes from the ad alone and collecting it again gives the same id: its end, else
    when it entered its last status (a job removed before it started has no end), else its QDate.
    """
    history = source == HISTORY
    if history or ad.get("JobStatus") in FINISHED:
        for name in _HISTORY_TIMES if history else _END_TIMES:
            value = number(ad.get(name))
            whole = integer(value) if value and value > 0 else None
            if whole is not None:
                return whole
    return now


def _data_collection(ad: JobAd, now: int) -> int:
    """CompletionDate when the job has one, else the collection time."""
    completed = integer(number(ad.get("CompletionDate"), 0) or now)
    return now if completed is None else completed


def spider_source(raw: RawAd, status: str) -> str:
    """condor_queue / condor_history; an ad read from a file counts as queue data while the job is
    still Running, Idle or Held, and as history otherwise."""
    if raw.source in (QUEUE, HISTORY):
        return raw.source
    return QUEUE if status in STILL_QUEUED else HISTORY


def _required(ad: JobAd) -> tuple[str, int, float]:
    job_id = ad.get("GlobalJobId")
    if not isinstance(job_id, str) or not job_id:
        raise ConversionError("no GlobalJobId")
    status = ad.get("JobStatus")
    if not isinstance(status, int) or isinstance(status, bool):
        raise ConversionError(f"JobStatus is {status!r:.40}, not an integer")
    qdate = number(ad.get("QDate"))
    if qdate is None or qdate <= 0:
        raise ConversionError(f"QDate is {ad.get('QDate')!r:.40}, not a positive number")
    return job_id, status, qdate


def _index_date(qdate: float) -> str:
    try:
        return _utc_day(int(qdate // 86400))
    except (OverflowError, OSError, ValueError):
        raise ConversionError(f"QDate {qdate!r} is not a valid date") from None


@functools.lru_cache(maxsize=1024)
def _utc_day(day: int) -> str:
    """YYYY-MM-DD of a day number since the epoch (memoised: a day's jobs share it, strftime is slow)."""
    return datetime.datetime.fromtimestamp(day * 86400, tz=datetime.UTC).strftime("%Y-%m-%d")


def _user_fields(result: dict[str, Any], ad: JobAd, analysis: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if analysis:
        fields["OutputFiles"] = crab.output_files(ad)
    fqan = ad.get("x509UserProxyFQAN")
    if isinstance(fqan, list):
        limit = ad.text_limit
        fields["x509UserProxyFQAN"] = [clean_text("x509UserProxyFQAN", str(item), limit) for item in fqan]
    elif fqan is not None:
        fields["x509UserProxyFQAN"] = ad.text("x509UserProxyFQAN", "").split(",")
    if ad.get("x509UserProxyVOName") is not None:
        fields["VO"] = ad.text("x509UserProxyVOName", "")
    fields["CMSGroups"] = sites.site_list(ad.get("CMSGroups"))
    return fields


def _metadata(raw: RawAd, context: ConversionContext, source: str) -> dict[str, Any]:
    return {
        "spider_git_hash": context.git_hash,
        "spider_hostname": context.hostname,
        "spider_username": context.username,
        "spider_runtime": int(raw.collected_at * 1000),
        "spider_source": source,
        "converter_version": context.converter_version,
    }


def convert(raw: RawAd, context: ConversionContext) -> Document | None:
    """The document of one ad; None for ads deliberately not monitored (TaskType ROOT: DAG roots)."""
    now = int(raw.collected_at)
    ad = JobAd(raw.ad, now, context.max_text_bytes)
    if ad.get("TaskType") == "ROOT":
        return None
    result = copy_attributes(ad, context.max_text_bytes, also_evaluate=_READ_BY_RULES)  # cleans the ad's texts
    job_id, _, qdate = _required(ad)
    index_date = _index_date(qdate)
    status = resources.status_name(ad)
    source = spider_source(raw, status)
    recorded = record_time(ad, now, source)
    analysis = workflow.is_analysis(ad)

    # read from the ad again, so cut like a copied text (a list value becomes a text here)
    glidein_site = clean_value("GLIDEIN_CMSSite", sites.site_name_text(sites.matched_site(ad)), context.max_text_bytes)
    result.update(
        RecordTime=recorded,
        DataCollection=_data_collection(ad, now),
        DataCollectionDate=recorded,
        ScheddName=job_id.split("#")[0],
        CMS_Pool=raw.pool or "Unknown",
        Type=ad.text("CMS_Type", "unknown").lower(),
        GLIDEIN_CMSSite=glidein_site,
    )
    if "CRAB_Id" in ad:
        result["FormattedCrabId"] = crab.formatted_crab_id(ad.get("CRAB_Id"))
    result.update(request_memory_eval(ad))
    result.update(exit_codes.exit_fields(ad, analysis))
    result.update(workflow.workflow_fields(result, ad, analysis))

    use = resources.usage(ad, now)
    result["PilotRestLifeTimeMins"] = resources.pilot_rest_lifetime_mins(ad, analysis)
    result["HasBeenTimingTuned"] = result.get("HasBeenTimingTuned") or False
    result.update(resources.resource_fields(ad, use, now))
    result["CRAB_TaskCreationDate"] = crab.task_creation_date(ad, recorded)
    result.update(cmssw.dataset_fields(result))
    result.update(_user_fields(result, ad, analysis))
    result.update(sites.site_fields(result, ad, analysis))
    result["Status"] = status
    result["Universe"] = resources.universe_name(ad)

    chirp.fold_statistics(result, ad.statistics)
    result.update(chirp.derived_fields(result, recorded, use.cpus, result["CoreHr"]))
    result.update(cmssw.version_fields(result))
    result.update(machine.hs06_fields(result, ad))
    result.update(machine.db12_fields(result, ad))
    result.update(machine.cpu_fields(ad))
    login_known = "CRAB_UserHN" in result
    result.update(
        affiliation_fields(
            context.affiliations,
            result.get("CRAB_UserHN") if login_known else None,
            None if login_known else result.get("x509userproxysubject"),
        )
    )
    result.update(crab.postjob_fields(result))
    result["CMS_WMTool"] = workflow.wm_tool(result)

    if source == QUEUE and context.reduce_running and status in STILL_QUEUED:
        result = {name: value for name, value in result.items() if name in RUNNING_FIELDS}
    result["CpuEffOutlier"] = 1 if number(result.get("CpuEff"), 0) >= 100.0 else 0
    result["metadata"] = _metadata(raw, context, source)
    return Document(id=f"{job_id}#{recorded}", index_date=index_date, source=source, body=result)
