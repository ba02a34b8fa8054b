"""CMSSW release (from CRAB_JobSW) and the parts of the primary input dataset name."""

from __future__ import annotations

import re
from typing import Any

_CMSSW_VERSION = re.compile(r"CMSSW_((\d+)_(\d+)_.*)")


def version_fields(result: dict[str, Any]) -> dict[str, str]:
    """CMSSW_10_6_4_patch1 -> CMSSWVersion 10_6_4_patch1, major 10_X_X, release series 10_6_X."""
    fields = {"CMSSWVersion": "Unknown", "CMSSWMajorVersion": "Unknown", "CMSSWReleaseSeries": "Unknown"}
    software = result.get("CRAB_JobSW")
    match = _CMSSW_VERSION.match(software) if isinstance(software, str) else None
    if match:
        major, minor = int(match.group(2)), int(match.group(3))
        fields["CMSSWVersion"] = match.group(1)
        fields["CMSSWMajorVersion"] = f"{major}_X_X"
        fields["CMSSWReleaseSeries"] = f"{major}_{minor}_X"
    return fields


def dataset_fields(result: dict[str, Any]) -> dict[str, str]:
    """/Primary/Processed/TIER -> the three parts; 'Unknown' when the name has fewer parts."""
    fields = {
        "CMSPrimaryPrimaryDataset": "Unknown",
        "CMSPrimaryProcessedDataset": "Unknown",
        "CMSPrimaryDataTier": "Unknown",
    }
    if "DESIRED_CMSDataset" in result:
        parts = str(result["DESIRED_CMSDataset"]).split("/")
        if len(parts) > 3:
            fields["CMSPrimaryPrimaryDataset"] = parts[1]
            fields["CMSPrimaryProcessedDataset"] = parts[2]
            fields["CMSPrimaryDataTier"] = parts[-1]
    return fields
