"""CRAB (analysis) fields: FormattedCrabId, CRAB_TaskCreationDate, OutputFiles, CRAB_PostJobStatus."""

from __future__ import annotations

import calendar
import datetime
import functools
from typing import Any

from services.converter.expressions import JobAd
from services.converter.values import integer

_POSTJOB_STATUS = {
    "NOT RUN": "postProc",
    "TRANSFERRING": "transferring",
    "COOLOFF": "toRetry",
    "FAILED": "failed",
    "FINISHED": "finished",
}
_OUTPUT_FILE_LISTS = ("CRAB_AdditionalOutputFiles", "CRAB_TFileOutputFiles", "CRAB_EDMOutputFiles")


def formatted_crab_id(crab_id: Any) -> str:
    """Zero-padded CRAB_Id whose text order is the job order: 0.000001 < 000001 < 1.000001 (X-N ids)."""
    text = str(crab_id) if isinstance(crab_id, int) and not isinstance(crab_id, bool) else crab_id
    if not isinstance(text, str):
        return "000000"
    if "-" in text:
        parts = text.split("-")
        if len(parts) >= 2 and parts[0].isdecimal() and parts[1].isdecimal():
            return f"{int(parts[0])}.{int(parts[1]):06d}"
        return "000000"
    return f"{int(text):06d}" if text.isdecimal() else "000000"


def task_creation_date(ad: JobAd, record_time: int) -> int:
    """CRAB task names start with their creation time: '190309_085131:user_crab_...' (UTC)."""
    workflow = ad.get("CRAB_Workflow")
    created = _task_created(workflow.split(":")[0]) if isinstance(workflow, str) else None
    return record_time if created is None else created


@functools.lru_cache(maxsize=4096)
def _task_created(prefix: str) -> int | None:
    """Epoch seconds of a 'yymmdd_HHMMSS' task name prefix; memoised (the jobs of a task share it)."""
    if len(prefix) > len("yymmdd_HHMMSS"):  # strptime would reject it too, only more slowly
        return None
    try:
        created = datetime.datetime.strptime(prefix, "%y%m%d_%H%M%S")
    except ValueError:
        return None
    return calendar.timegm(created.timetuple())


def output_files(ad: JobAd) -> int:
    """Number of declared output files, plus one for the log archive when logs are saved."""
    count = sum(len(value) for value in map(ad.get, _OUTPUT_FILE_LISTS) if isinstance(value, list))
    return count + (1 if ad.get("CRAB_SaveLogsFlag") is True or ad.get("CRAB_SaveLogsFlag") == 1 else 0)


def postjob_fields(result: dict[str, Any]) -> dict[str, Any]:
    """CRAB_PostJobStatus is the real status of a finished CRAB job; other CRAB jobs get their Status.

    A job counts as finished when Completed, or Removed with a post-job that did run. Such jobs
    without a CompletionDate / CommittedTime get EnteredCurrentStatus / RemoteWallClockTime.
    """
    reported = result.get("CRAB_PostJobStatus")
    postjob = reported.strip().upper() if isinstance(reported, str) and reported.strip() else None
    status = result["Status"]
    if postjob and (status == "Completed" or (status == "Removed" and postjob != "NOT RUN")):
        fields: dict[str, Any] = {"CRAB_PostJobStatus": _POSTJOB_STATUS.get(postjob, postjob)}
        if "CompletionDate" not in result:
            fields["CompletionDate"] = result.get("EnteredCurrentStatus")
        if not result.get("CommittedTime"):
            wall = result.get("RemoteWallClockTime")
            fields["CommittedTime"] = integer(wall)
        return fields
    if "CRAB_Id" in result:
        return {"CRAB_PostJobStatus": status}
    return {}
