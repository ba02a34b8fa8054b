"""Where the job ran and where its data is: Site, Tier, Country, DESIRED_Sites, DataLocations, InputData."""

from __future__ import annotations

import re
from typing import Any

from services.converter.expressions import JobAd

IDLE = 1
MATCHED_SITE = "MATCH_EXP_JOB_GLIDEIN_CMSSite"
# where the matched site may be recorded instead, most specific first
_SITE_FALLBACKS = (
    "MATCH_EXP_JOBGLIDEIN_CMSSite",
    "MATCH_GLIDEIN_CMSSite",
    "MachineAttrGLIDEIN_CMSSite0",
    "MachineAttrCMSProcessingSiteName0",
)
_UNKNOWN_SITES = ("UNKNOWN", "Unknown")
_LIST_SEPARATORS = re.compile(r"[\s,]+\s*")


def matched_site(ad: JobAd) -> Any:
    """GLIDEIN_CMSSite of the document: the first defined of the matched-site attributes, else 'Unknown'."""
    for name in (MATCHED_SITE, *_SITE_FALLBACKS):
        value = ad.get(name)
        if value is not None:
            return value
    return "Unknown"


def site_list(value: Any) -> list[str]:
    """A comma/blank separated list (or a ClassAd list of names); ['UNKNOWN'] when there is none."""
    if isinstance(value, str):
        return _LIST_SEPARATORS.split(value)
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return list(value)
    return ["UNKNOWN"]


def site_name_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def site_name(glidein_site: str) -> str:
    """The CMS site without the '_Disk' suffix of T1 disk endpoints."""
    return glidein_site.removesuffix("_Disk")


def tier_and_country(site: str) -> tuple[str, str]:
    parts = site.split("_", 2)
    return (parts[0], parts[1]) if len(parts) == 3 else ("Unknown", "Unknown")


def input_data(
    result: dict[str, Any], site: str, desired: list[str], job_status: Any, analysis: bool
) -> dict[str, str]:
    """Onsite/Offsite and, for offsite jobs, why the job ran away from its data (OverflowType)."""
    locations = result.get("DESIRED_CMSDataLocations")
    if locations is None:
        return {"InputData": "Onsite"}  # CRAB2-style jobs carry no data location
    if isinstance(locations, str | list) and site in locations:  # a string is matched as text, as before
        return {"InputData": "Onsite"}
    if site in _UNKNOWN_SITES or job_status == IDLE:
        return {}
    if not analysis:
        return {"InputData": "Offsite", "OverflowType": "Unified"}
    overflow = "IgnoreLocality" if site in desired else "FrontendOverflow"
    return {"InputData": "Offsite", "OverflowType": overflow}


def site_fields(result: dict[str, Any], ad: JobAd, analysis: bool) -> dict[str, Any]:
    desired_value = ad.get("DESIRED_Sites") if "DESIRED_Sites" in ad else ad.get("DESIRED_SITES")
    desired = site_list(desired_value)
    locations = site_list(ad.get("DESIRED_CMSDataLocations"))
    site = site_name(result.get("GLIDEIN_CMSSite", "UNKNOWN"))
    tier, country = tier_and_country(site)
    fields: dict[str, Any] = {
        "DataLocations": locations,
        "DESIRED_Sites": desired,
        "Original_DESIRED_Sites": site_list(ad.get("ExtDESIRED_Sites")),
        "DesiredSiteCount": len(desired),
        "DataLocationsCount": len(locations),
        "Site": site,
        "Tier": tier,
        "Country": country,
    }
    fields.update(input_data(result, site, desired, ad.get("JobStatus"), analysis))
    return fields
