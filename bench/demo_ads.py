"""Write the demo's sample ads (deploy/demo/ads/) from bench/ads.py; run once, the files are committed.

It lives here, beside the generator it draws from, so that the demo (deploy/demo) reads only its committed files
and never depends on the benchmarks (.importlinter). `python -m bench.demo_ads` rewrites them identically (fixed
seeds). Four files, one per pool and
source: the CMS Global pool (CRAB analysis and WMAgent production) and the Tier-0 pool, each with a queue
snapshot (`condor_q -long` layout: running, idle, held) and a history file (schedd history layout with `***`
banners: completed, removed). A few ads are broken on purpose so the demo shows both dead-letter paths: one
the collector cannot parse and two the converter rejects.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import classad2

from bench import ads as bench

HERE = Path(__file__).resolve().parent.parent / "deploy" / "demo" / "ads"
TIER0_SCHEDDS = ["vocms0313.cern.ch", "vocms0314.cern.ch"]
TIER0_STREAMS = ["JetMET0", "Muon0", "EGamma1", "ParkingDoubleMuonLowMass2", "ZeroBias"]
TIER0_TASKS = ["Repack", "Express", "PromptReco", "Merge", "Cleanup"]


def _renumber(ad: classad2.ClassAd, schedd: str, cluster: int) -> None:
    """A GlobalJobId unique across all files (the bench generator numbers every batch from the same base)."""
    proc = ad["ProcId"]
    ad["ClusterId"] = cluster
    ad["GlobalJobId"] = f"{schedd}#{cluster}.{proc}#{ad['QDate']}"


def _tier0(rng: random.Random, ad: classad2.ClassAd) -> None:
    run = rng.randrange(380000, 386000)
    stream = rng.choice(TIER0_STREAMS)
    task = rng.choice(TIER0_TASKS)
    request = f"PromptReco_Run{run}_{stream}" if task in ("PromptReco", "Merge") else f"{task}_Run{run}_Stream{stream}"
    values: dict[str, Any] = {
        "Owner": "cmst0",
        "User": "cmst0@cms",
        "AcctGroup": "tier0",
        "AcctGroupUser": "cmst0",
        "AccountingGroup": "tier0.cmst0",
        "CMS_Type": "tier0",
        "CMSGWMS_Type": "tier0schedd",
        "WMAgent_RequestName": request,
        "WMAgent_SubTaskName": f"/{request}/{task}",
        "WMAgent_AgentName": "vocms0500.cern.ch",
        "WMAgent_TaskType": task,
        "CMS_JobType": task,
        "CMS_CampaignType": "Data",
        "CMSPrimaryPrimaryDataset": stream,
        "TaskType": task,
        "DESIRED_Sites": "T0_CH_CERN",
        "MATCH_EXP_JOBGLIDEIN_CMSSite": "T0_CH_CERN",
    }
    for name, value in values.items():
        ad[name] = value


def _batch(n: int, seed: int, kind: bench.Kind, first_cluster: int, tier0: bool) -> list[classad2.ClassAd]:
    rng = random.Random(seed)
    batch = bench.realistic_ads(n, seed=seed, kind=kind, diverse=False)  # the ads the committed files hold
    for i, ad in enumerate(batch):
        if tier0:
            _tier0(rng, ad)
            schedd = rng.choice(TIER0_SCHEDDS)
        else:
            schedd = ad["GlobalJobId"].split("#")[0]
        _renumber(ad, schedd, first_cluster + i // 10)
    return batch


def _queue_text(batch: list[classad2.ClassAd]) -> str:
    return "\n".join(ad.printOld() for ad in batch)


UNPARSABLE = """\
MyType = "Job"
GlobalJobId = "vocms0155.cern.ch#1999999.0#1699990000"
JobStatus = 4
QDate = 1699990000
RequestMemory = ifThenElse(MemoryUsage =!= undefined, max({ 2000, MemoryUsage * 3 / 2 }, 2000)
Owner = "truncated copy"
"""


def _broken(batch: list[classad2.ClassAd]) -> None:
    """Two ads the converter rejects: JobStatus written as text, and an ad without GlobalJobId."""
    batch[7]["JobStatus"] = "Completed"
    del batch[23]["GlobalJobId"]


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    global_history = _batch(100, seed=11, kind="history", first_cluster=2_100_000, tier0=False)
    _broken(global_history)
    files = {
        "global-queue.ads": _queue_text(_batch(75, seed=12, kind="queue", first_cluster=2_200_000, tier0=False)),
        "global-history.ads": bench.history_text(global_history) + UNPARSABLE,
        "tier0-queue.ads": _queue_text(_batch(15, seed=13, kind="queue", first_cluster=2_300_000, tier0=True)),
        "tier0-history.ads": bench.history_text(
            _batch(30, seed=14, kind="production", first_cluster=2_400_000, tier0=True)
        ),
    }
    for name, text in files.items():
        (HERE / name).write_text(text, encoding="utf-8")
        print(f"{HERE / name}: {len(text) // 1024} KiB")


if __name__ == "__main__":
    main()
