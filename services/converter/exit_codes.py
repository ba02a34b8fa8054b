"""ExitCode, CondorExitCode, JobFailed, ErrorType and ErrorClass (reference `commonExitCode` & co)."""

from __future__ import annotations

from typing import Any

from services.converter.expressions import JobAd
from services.converter.values import integer, number

REMOVED_BEFORE_EXIT = 50666  # no ExitCode at all: the executable never finished


def exit_code(ad: JobAd, analysis: bool) -> int | None:
    """One exit code per job: the most specific of condor's, CRAB's and WMCore's cmsRun code."""
    if "ExitCode" not in ad:
        return REMOVED_BEFORE_EXIT
    condor = ad.get("ExitCode")
    if analysis:
        for name in ("JobExitCode", "Chirp_CRAB3_Job_ExitCode"):
            if name in ad:
                return integer(ad.get(name))
        return integer(condor)
    cmsrun = number(ad.get("Chirp_WMCore_cmsRun_ExitCode"), 0)
    if cmsrun > 0:
        return integer(cmsrun)
    return integer(condor)


def error_type(code: int | None) -> str:
    if code == 0:
        return "Success"
    if code is None:
        return "Other"
    if 10000 <= code <= 19999 or code == 50513:
        return "Environment"
    if 60000 <= code <= 69999:
        return "Publication" if code >= 69000 else "StageOut"
    if 80000 <= code <= 89999:
        return "JobWrapper"
    if code in (8020, 8028):
        return "FileOpen"
    if code == 8021:
        return "FileRead"
    if code in (8030, 8031, 8032, 9000) or 50660 <= code <= 50669:
        return "OutOfBounds"
    if 7000 <= code <= 9000 or code == 139:
        return "Executable"
    return "Other"


_ERROR_CLASS = {
    "Environment": "System",
    "Publication": "System",
    "StageOut": "System",
    "FileOpen": "DataAccess",
    "FileRead": "DataAccess",
    "JobWrapper": "Application",
    "OutOfBounds": "Application",
    "Executable": "Application",
}


def exit_fields(ad: JobAd, analysis: bool) -> dict[str, Any]:
    code = exit_code(ad, analysis)
    failed = 0 if code == 0 else 1
    kind = error_type(code)
    fields = {
        "JobFailed": failed,
        "ErrorType": kind,
        "ErrorClass": _ERROR_CLASS.get(kind, "Other" if failed else "Success"),
        "ExitCode": code,
    }
    if "ExitCode" in ad:
        fields["CondorExitCode"] = integer(ad.get("ExitCode"))
    return fields
