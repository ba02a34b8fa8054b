"""Which jobs a poll asks a schedd for: the constraints and the history time-window rules.

Pure functions of the clock value they are given, so the rules are testable with fixed times.
The constraint texts follow the reference: a job lacking CMS_Type makes `CMS_Type != "DONOTMONIT"` undefined,
so, exactly as in the reference, only CMS jobs are monitored.
"""

from __future__ import annotations

from dataclasses import dataclass

_CMS_JOBS = '(JobUniverse == 5) && (CMS_Type != "DONOTMONIT")'
SCHEDD_CONSTRAINT = "!isUndefined(CMSGWMS_Type)"
SCHEDD_PROJECTION = ["Name", "MyAddress", "ScheddIpAddr", "CondorVersion"]


def queue_constraint(now: float, recent_s: int) -> str:
    """Idle/running/held jobs, plus Removed/Completed ones that changed within the last `recent_s` seconds."""
    since = int(now) - recent_s
    return (
        f"{_CMS_JOBS} && (JobStatus < 3 || JobStatus > 4"
        f" || EnteredCurrentStatus >= {since} || CRAB_PostJobLastUpdate >= {since})"
    )


def history_constraint(low: int, high: int | None = None) -> str:
    """Finished jobs whose status or CRAB post-job update time is in [low, high) (no upper bound if None)."""

    def within(attribute: str) -> str:
        upper = f" && {attribute} < {high}" if high is not None else ""
        return f"({attribute} >= {low}{upper})"

    return f"{_CMS_JOBS} && ({within('EnteredCurrentStatus')} || {within('CRAB_PostJobLastUpdate')})"


@dataclass(frozen=True)
class WindowRules:
    overlap_s: int = 720
    lookback_s: int = 720 * 60
    max_age_s: int = 39 * 24 * 3600
    crab_max_age_s: int = 12 * 3600

    def effective_checkpoint(self, schedd: str, checkpoint: float | None, now: float) -> float:
        """Where the history of `schedd` resumes; also the checkpoint kept when a poll finds no newer ad.

        No checkpoint: look back `lookback_s`. Never further back than `max_age_s`. A `crab*` schedd whose
        checkpoint is older than `crab_max_age_s` restarts from the default look-back, as in the reference.
        """
        last = checkpoint if checkpoint is not None else now - self.lookback_s
        last = max(last, now - self.max_age_s)
        if schedd.startswith("crab") and last < now - self.crab_max_age_s:
            last = now - self.lookback_s
        return last

    def first_time(self, schedd: str, checkpoint: float | None, now: float) -> int:
        """Lowest EnteredCurrentStatus to read: one overlap period before the effective checkpoint, so history
        records written late are not missed (they come twice at worst, with the same key)."""
        return int(self.effective_checkpoint(schedd, checkpoint, now)) - self.overlap_s
