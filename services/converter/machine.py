"""The machine the job ran on: HS06 and DB12 benchmark scores and rates, HasSingularity, CPU model."""

from __future__ import annotations

from typing import Any

from services.converter.expressions import JobAd
from services.converter.values import number

HS06_MACHINE_ATTR = "MachineAttrMJF_JOB_HS06_JOB0"


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _scaled(prefix: str, score: float, result: dict[str, Any]) -> dict[str, float]:
    """Rates divided by, and times / core-hours multiplied by, the per-core benchmark score."""
    fields: dict[str, float] = {}
    for name in ("EventRate", "CpuEventRate"):
        value = number(result.get(name), 0)
        if value > 0:
            fields[prefix + name] = value / score
    for name in ("CpuTimePerEvent", "TimePerEvent"):
        value = number(result.get(name), 0)
        if value > 0:
            fields[prefix + name] = value * score
    for name in ("CoreHr", "CommittedCoreHr", "CpuTimeHr"):
        fields[prefix + name] = result[name] * score
    return fields


def hs06_fields(result: dict[str, Any], ad: JobAd) -> dict[str, Any]:
    """HS06 per core = machine HS06 / GLIDEIN_Cpus. Without a usable score the raw machine attribute
    is removed from the document too (as the reference did), so a bad value never reaches the index."""
    cpus = _as_float(result.get("GLIDEIN_Cpus"))
    machine = _as_float(ad.get(HS06_MACHINE_ATTR))
    if not cpus or machine is None or machine == 0:
        result.pop(HS06_MACHINE_ATTR, None)
        return {}
    score = machine / cpus
    return {"BenchmarkJobHS06": score, **_scaled("HS06", score, result)}


def db12_fields(result: dict[str, Any], ad: JobAd) -> dict[str, Any]:
    score = _as_float(ad.get("MachineAttrDIRACBenchmark0"))
    if score is None:
        return {}
    if score == 0:
        return {"BenchmarkJobDB12": score}
    return {"BenchmarkJobDB12": score, **_scaled("DB12", score, result)}


def cpu_fields(ad: JobAd) -> dict[str, Any]:
    """CPU model chirped by CMSSW, else the one advertised by the machine; three names for one value."""
    chirped = ad.get("ChirpCMSSWCPUModels") is not None
    model = ad.text("ChirpCMSSWCPUModels" if chirped else "MachineAttrCPUModel0", None)
    fields: dict[str, Any] = {"HasSingularity": ad.get("MachineAttrHAS_SINGULARITY0") is True}
    if model is not None:
        fields.update(CPUModel=model, CPUModelName=model, Processor=model)
    return fields
