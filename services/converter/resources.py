"""Time and resource accounting: WallClockHr, RequestCpus, CoreHr, CpuEff, QueueHrs, Badput...

For a running job the wall clock so far is measured up to the collection time of the message (the
reference used the clock of the conversion, so a replay changed the numbers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from services.converter import ratelimit
from services.converter.expressions import JobAd
from services.converter.values import integer, number

RUNNING = 2

STATUS = {0: "Unexpanded", 1: "Idle", 2: "Running", 3: "Removed", 4: "Completed", 5: "Held", 6: "Error"}
UNIVERSE = {
    1: "Standard",
    2: "Pipe",
    3: "Linda",
    4: "PVM",
    5: "Vanilla",
    6: "PVMD",
    7: "Scheduler",
    8: "MPI",
    9: "Grid",
    10: "Java",
    11: "Parallel",
    12: "Local",
}

_CREAM_CPUS = re.compile(r"CPUNumber = (\d+)")
_NORDUGRID_CPUS = re.compile(r"\(count=(\d+)\)")


@dataclass(frozen=True, slots=True)
class Usage:
    """The accounting inputs after the running-job correction."""

    wall_s: float
    committed_s: float
    cpus: int


def _lookup(table: dict[int, str], value: Any) -> str:
    return table.get(value, "Unknown") if isinstance(value, int) and not isinstance(value, bool) else "Unknown"


def status_name(ad: JobAd) -> str:
    return _lookup(STATUS, ad.get("JobStatus"))


def universe_name(ad: JobAd) -> str:
    return _lookup(UNIVERSE, ad.get("JobUniverse"))


def request_cpus(ad: JobAd) -> int:
    """RequestCpus evaluated; grid jobs without it: CREAM CPUNumber, NorduGrid (count=N), xcount; else 1."""
    if "RequestCpus" in ad:
        value = ad.get("RequestCpus")
    else:
        value = 1
        cream = ad.get("CreamAttributes")
        nordugrid = ad.get("NordugridRSL")
        cream_match = _CREAM_CPUS.search(cream) if isinstance(cream, str) else None
        nordugrid_match = _NORDUGRID_CPUS.search(nordugrid) if isinstance(nordugrid, str) else None
        if cream_match:
            value = int(cream_match.group(1))
        elif nordugrid_match:
            value = int(nordugrid_match.group(1))
        elif "xcount" in ad:
            value = ad.get("xcount")
    found = number(value)
    if found is None and isinstance(value, str):
        try:
            found = float(value)
        except ValueError:
            found = None
    cpus = integer(found)
    if cpus is not None:
        return cpus
    if value is not None:  # undefined is ordinary (1 is the default); a value we cannot use is worth a warning
        warning = f"CPU count {value!r:.80} is not a 64-bit number; RequestCpus set to 1"
        ratelimit.warn("fallback", "RequestCpus", warning)
    return 1


def usage(ad: JobAd, now: int) -> Usage:
    """Wall and committed seconds; a running job gets now - EnteredCurrentStatus for both."""
    wall = number(ad.get("RemoteWallClockTime"), 0)
    committed = number(ad.get("CommittedTime"), 0)
    entered = number(ad.get("EnteredCurrentStatus"))
    if ad.get("JobStatus") == RUNNING and entered is not None and entered < now:
        wall = committed = int(now - entered)
    return Usage(wall_s=wall, committed_s=committed, cpus=request_cpus(ad))


def pilot_rest_lifetime_mins(ad: JobAd, analysis: bool) -> int:
    """Minutes the pilot of a running analysis job had left when the job started (-4320 if unknown)."""
    if not (analysis and ad.get("JobStatus") == RUNNING and "LastMatchTime" in ad):
        return -1
    to_die = number(ad.get("MATCH_GLIDEIN_ToDie"))
    entered = number(ad.get("EnteredCurrentStatus"))
    if to_die is None or entered is None:
        return -72 * 60
    minutes = integer((to_die - entered) / 60)
    return minutes if minutes is not None else -72 * 60


def resource_fields(ad: JobAd, use: Usage, now: int) -> dict[str, Any]:
    wall_hr = use.wall_s / 3600.0
    core_hr = use.cpus * int(use.wall_s) / 3600.0
    committed_core_hr = use.cpus * use.committed_s / 3600.0
    cpu_hr = (number(ad.get("RemoteSysCpu"), 0) + number(ad.get("RemoteUserCpu"), 0)) / 3600.0
    started = number(ad.get("JobCurrentStartDate"), now)
    return {
        "WallClockHr": wall_hr,
        "RequestCpus": use.cpus,
        "CoreHr": core_hr,
        "CommittedCoreHr": committed_core_hr,
        "CommittedWallClockHr": use.committed_s / 3600.0,
        "CpuTimeHr": cpu_hr,
        "DiskUsageGB": number(ad.get("DiskUsage_RAW"), 0) / 1000000.0,
        "MemoryMB": number(ad.get("ResidentSetSize_RAW"), 0) / 1024.0,
        "CpuEff": 0.0 if wall_hr == 0 or use.cpus <= 0 else 100 * cpu_hr / wall_hr / float(use.cpus),
        "QueueHrs": (started - number(ad.get("QDate"), 0)) / 3600.0,
        "Badput": max(core_hr - committed_core_hr, 0.0),
        "CpuBadput": max(core_hr - cpu_hr, 0.0),
    }
