"""Realistic CMS job ads for benchmarks and load tests: `realistic_ads(n, seed, kind)`.

Each ad has about 200 attributes (~7 KB in the old ClassAd syntax), shaped like what the CMS global pool
schedds hold: CRAB analysis and WMAgent production jobs with glidein MATCH_EXP_ attributes, machine
attributes, per-step and per-IOSite Chirp statistics, expressions (RequestMemory, Requirements,
periodic policies), undefined values and the occasional error value. Deterministic for a given seed.
"""

from __future__ import annotations

import base64
import random
import zlib
from collections.abc import Iterator
from typing import Any, Literal

import classad2

from services.common import raw_message

Kind = Literal["mixed", "history", "queue", "crab", "production"]

BASE_TIME = 1_700_000_000
SITES = [
    "T1_US_FNAL",
    "T1_DE_KIT",
    "T1_IT_CNAF",
    "T1_FR_CCIN2P3",
    "T1_UK_RAL",
    "T1_ES_PIC",
    "T2_CH_CERN",
    "T2_US_Nebraska",
    "T2_US_Wisconsin",
    "T2_US_Purdue",
    "T2_US_MIT",
    "T2_US_Caltech",
    "T2_US_UCSD",
    "T2_DE_DESY",
    "T2_IT_Pisa",
    "T2_IT_Legnaro",
    "T2_FR_IPHC",
    "T2_UK_London_IC",
    "T2_ES_CIEMAT",
    "T2_BR_SPRACE",
    "T2_CN_Beijing",
    "T2_IN_TIFR",
    "T2_KR_KISTI",
    "T3_US_NERSC",
    "T2_BE_IIHE",
]
SCHEDDS = [
    "vocms0155.cern.ch",
    "vocms0194.cern.ch",
    "crab3@vocms0122.cern.ch",
    "vocms0253.cern.ch",
    "cmsgwms-submit6.fnal.gov",
]
USERS = ["jdoe", "mrossi", "kchen", "apatel", "lmuller", "sgarcia", "cmsdataops", "tnakamura", "ppetrov", "ebrown"]
CMSSW = ["CMSSW_10_6_30", "CMSSW_12_4_11_patch3", "CMSSW_13_0_17", "CMSSW_13_3_1", "CMSSW_14_0_7_MULTIARCHS"]
DATASETS = [
    "/JetHT/Run2023C-PromptReco-v4/MINIAOD",
    "/TTToSemiLeptonic_TuneCP5_13TeV-powheg-pythia8/RunIISummer20UL18MiniAODv2-106X_upgrade2018_v16_L1v1-v2/MINIAODSIM",
    "/Muon0/Run2024D-PromptReco-v1/AOD",
    "/DYJetsToLL_M-50_TuneCP5_13TeV-amcatnloFXFX-pythia8/RunIISummer20UL17NanoAODv9-106X_mc2017_v9-v2/NANOAODSIM",
]
CPUS = [
    "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz",
    "AMD EPYC 7763 64-Core Processor",
    "Intel(R) Xeon(R) CPU E5-2650 v4 @ 2.20GHz",
]
HISTORY_STATUS = (4, 4, 4, 3)
# base64(zlib("Fatal Exception: ...")), as WMCore chirps it
WMCORE_EXCEPTION = base64.b64encode(
    zlib.compress(
        b"An exception of category 'FileOpenError' occurred while opening root://cmsxrootd.fnal.gov//store/x.root"
    )
).decode()
QUEUE_STATUS = (1, 2, 2, 2, 5)


def _expr(text: str) -> classad2.ExprTree:
    return classad2.ExprTree(text)


def _common(rng: random.Random, i: int, status: int, crab: bool) -> dict[str, Any]:
    schedd = SCHEDDS[2] if crab else rng.choice([s for s in SCHEDDS if not s.startswith("crab")])
    cluster, proc = 1_000_000 + i // 10, i % 10
    qdate = BASE_TIME - rng.randrange(3600, 7 * 86400)
    start = qdate + rng.randrange(60, 86400)
    wall = rng.randrange(600, 48 * 3600)
    cpus = rng.choice([1, 1, 4, 8])
    user = rng.choice(USERS)
    site = rng.choice(SITES)
    desired = rng.sample(SITES, rng.randrange(2, 8))
    finished = status in (3, 4)
    ad: dict[str, Any] = {
        "MyType": "Job",
        "TargetType": "Machine",
        "GlobalJobId": f"{schedd}#{cluster}.{proc}#{qdate}",
        "ClusterId": cluster,
        "ProcId": proc,
        "QDate": qdate,
        "JobStatus": status,
        "LastJobStatus": 2 if finished else 1,
        "EnteredCurrentStatus": start + wall if finished else start,
        "JobUniverse": 5,
        "Owner": user,
        "User": f"{user}@cms",
        "AccountingGroup": f"{'analysis' if crab else 'production'}.{user}",
        "AcctGroup": "analysis" if crab else "production",
        "AcctGroupUser": user,
        "CMS_Type": "analysis" if crab else "production",
        "CMSGWMS_Type": "crabschedd" if crab else "prodschedd",
        "RequestCpus": cpus,
        "RequestMemory": _expr("ifThenElse(MemoryUsage =!= undefined, max({ 2000, MemoryUsage * 3 / 2 }), 2000)")
        if rng.random() < 0.5
        else 2000 * cpus,
        "RequestDisk": _expr("DiskUsage"),
        "DiskUsage": rng.randrange(10_000, 20_000_000),
        "DiskUsage_RAW": rng.randrange(10_000, 20_000_000),
        "MemoryUsage": _expr("((ResidentSetSize + 1023) / 1024)"),
        "ResidentSetSize": rng.randrange(100_000, 4_000_000),
        "ResidentSetSize_RAW": rng.randrange(100_000, 4_000_000),
        "ImageSize": rng.randrange(100_000, 5_000_000),
        "ImageSize_RAW": rng.randrange(100_000, 5_000_000),
        "ExecutableSize": 75,
        "MaxWallTimeMins": rng.choice([1250, 2700, 2880]),
        "MaxWallTimeMins_RAW": 1315,
        "JobPrio": rng.randrange(-10, 10),
        "JobRunCount": rng.randrange(1, 4),
        "NumJobStarts": rng.randrange(1, 4),
        "NumJobMatches": rng.randrange(1, 6),
        "NumShadowStarts": rng.randrange(1, 4),
        "NumRestarts": 0,
        "NumSystemHolds": 0,
        "NumCkpts": 0,
        "JobStartDate": start,
        "JobCurrentStartDate": start,
        "JobCurrentStartExecutingDate": start + 12,
        "JobLastStartDate": start,
        "LastMatchTime": start - 5,
        "ShadowBday": start,
        "RemoteWallClockTime": float(wall) if finished else 0.0,
        "CumulativeSlotTime": float(wall),
        "CommittedTime": wall if finished else 0,
        "CommittedSlotTime": float(wall * cpus) if finished else 0.0,
        "CommittedSuspensionTime": 0,
        "CumulativeSuspensionTime": 0,
        "RemoteUserCpu": float(int(wall * cpus * rng.uniform(0.3, 0.95))),
        "RemoteSysCpu": float(rng.randrange(10, 3000)),
        "LocalUserCpu": 0.0,
        "BytesSent": float(rng.randrange(10_000, 50_000_000)),
        "BytesRecvd": float(rng.randrange(10_000, 50_000_000)),
        "BlockReads": rng.randrange(0, 100_000),
        "BlockWrites": rng.randrange(0, 100_000),
        "BlockReadKbytes": rng.randrange(0, 10_000_000),
        "BlockWriteKbytes": rng.randrange(0, 10_000_000),
        "TransferInputSizeMB": rng.randrange(0, 200),
        "Cmd": "/data/srv/glidecondor/condor_local/spool/cmsRun.sh" if crab else "submit_py3.sh",
        "Iwd": f"/data/srv/glidecondor/condor_local/spool/{cluster % 10000}/{proc}/cluster{cluster}.proc{proc}",
        "Arguments": f"-a sandbox.tar.gz --sourceURL=https://cmsweb.cern.ch:8443/crabcache --jobNumber={proc} "
        f"--cmsswVersion={rng.choice(CMSSW)} --scramArch=el8_amd64_gcc11 --inputFile=job_input_file_list_{proc}.txt",
        "Out": "_condor_stdout",
        "Err": "_condor_stderr",
        "In": "/dev/null",
        "ShouldTransferFiles": "YES",
        "WhenToTransferOutput": "ON_EXIT",
        "TransferInput": "CMSRunAnalysis.sh,cmscp.py,CMSRunAnalysis.tar.gz,sandbox.tar.gz,run_and_lumis.tar.gz",
        "TransferOutput": "jobReport.json,wmcore_initialized",
        "StreamOut": False,
        "StreamErr": False,
        "LeaveJobInQueue": _expr("false"),
        "OnExitRemove": True,
        "OnExitHold": _expr("ifThenElse(ExitCode =!= undefined, ExitCode != 0 && NumJobStarts < 3, false)"),
        "PeriodicRemove": _expr(
            "((JobStatus =?= 5) && (time() - EnteredCurrentStatus > 7 * 60)) || ((JobStatus =?= 2) && "
            "(MemoryUsage > RequestMemory))"
        ),
        "PeriodicHold": False,
        "PeriodicRelease": False,
        "Requirements": _expr(
            'stringListMember(TARGET.GLIDEIN_CMSSite, DESIRED_Sites) && (TARGET.Arch == "X86_64") && '
            '(TARGET.OpSys == "LINUX") && (TARGET.Disk >= RequestDisk) && (TARGET.Memory >= RequestMemory) && '
            "(TARGET.Cpus >= RequestCpus) && (TARGET.HasFileTransfer)"
        ),
        "Rank": 0.0,
        "DESIRED_Sites": ",".join(desired),
        "DESIRED_CMSDataLocations": ",".join(rng.sample(SITES, 3)),
        "DESIRED_Archs": "X86_64",
        "DESIRED_OpSyses": "LINUX",
        "DESIRED_OpSysMajorVers": "8",
        "REQUIRED_OS": "rhel8",
        "CMS_ALLOW_OVERFLOW": "True",
        "MATCH_EXP_JOB_GLIDEIN_CMSSite": site,
        "MATCH_EXP_JOBGLIDEIN_CMSSite": site,
        "MATCH_EXP_JOB_GLIDEIN_Entry_Name": f"CMSHTPC_{site}_ce{rng.randrange(1, 9)}",
        "MATCH_EXP_JOB_GLIDEIN_Factory": "CERN",
        "MATCH_EXP_JOB_GLIDEIN_Name": "gfactory_instance",
        "MATCH_EXP_JOB_GLIDEIN_Schedd": "schedd_glideins5@cmsgwms-factory.fnal.gov",
        "MATCH_EXP_JOB_GLIDEIN_ClusterId": str(rng.randrange(1_000_000, 9_999_999)),
        "MATCH_EXP_JOB_GLIDEIN_ProcId": str(rng.randrange(0, 20)),
        "MATCH_EXP_JOB_GLIDEIN_SiteWMS": rng.choice(["HTCondor", "SLURM", "PBS", "LSF"]),
        "MATCH_EXP_JOB_GLIDEIN_SiteWMS_JobId": str(rng.randrange(10_000_000, 99_999_999)),
        "MATCH_EXP_JOB_GLIDEIN_SiteWMS_Queue": "cms",
        "MATCH_EXP_JOB_GLIDEIN_SiteWMS_Slot": f"slot1_{rng.randrange(1, 64)}@wn{rng.randrange(100, 999)}.example.org",
        "MATCH_EXP_JOB_GLIDEIN_Max_Walltime": "172800",
        "MATCH_EXP_JOB_GLIDEIN_MaxMemMBs": str(2500 * cpus),
        "MATCH_EXP_JOB_GLIDEIN_Memory": str(2500 * cpus),
        "MATCH_EXP_JOB_GLIDEIN_ToDie": str(start + 172800),
        "MATCH_EXP_JOB_GLIDEIN_ToRetire": str(start + 100000),
        "MATCH_EXP_JOB_GLIDEIN_Job_Max_Time": "34800",
        "MATCH_EXP_JOB_GLIDECLIENT_Name": "CMSG-ITB_gWMSFrontend-v1_0.main",
        "MATCH_EXP_JOB_Site": site.split("_", 2)[-1],
        "MATCH_GLIDEIN_CMSSite": site,
        "MATCH_Memory": 2500 * cpus,
        "MachineAttrGLIDEIN_CMSSite0": site,
        "MachineAttrCMSSubSiteName0": site.split("_", 2)[-1],
        "MachineAttrCpus0": cpus,
        "MachineAttrSlotWeight0": cpus,
        "MachineAttrCUDACapability0": classad2.Value.Undefined,
        "MachineAttrMJF_JOB_HS06_JOB0": round(rng.uniform(8, 20) * cpus, 2),
        "MachineAttrDIRACBenchmark0": round(rng.uniform(10, 30), 3),
        "JobMachineAttrs": "GLIDEIN_CMSSite,CMSSubSiteName,Cpus,SlotWeight,CUDACapability,MJF_JOB_HS06_JOB",
        "StartdIpAddr": f"<10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}:9618?addrs=...>",
        "RemoteHost": f"slot1_1@glidein_{rng.randrange(1000, 99999)}@wn{rng.randrange(100, 999)}.example.org",
        "LastRemoteHost": f"slot1_1@glidein_{rng.randrange(1000, 99999)}@wn{rng.randrange(100, 999)}.example.org",
        "LastRemotePool": "vocms0809.cern.ch",
        "AutoClusterId": rng.randrange(1, 50_000),
        "CondorVersion": "$CondorVersion: 24.0.2 2024-11-20 BuildID: 765432 PackageID: 24.0.2-1 $",
        "x509userproxysubject": f"/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN={user}/CN=123456",
        "x509UserProxyFQAN": f"/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN={user},/cms/Role=NULL/Capability=NULL,"
        "/cms/uscms/Role=NULL/Capability=NULL",
        "x509UserProxyFirstFQAN": "/cms/Role=NULL/Capability=NULL",
        "x509UserProxyVOName": "cms",
        "x509UserProxyEmail": f"{user}@cern.ch",
        "x509UserProxyExpiration": BASE_TIME + 7 * 86400,
        "x509userproxy": "/data/srv/glidecondor/condor_local/spool/x509up",
        "DelegatedProxyExpiration": BASE_TIME + 86400,
        "WantRemoteIO": True,
        "WantRemoteSyscalls": False,
        "JobLeaseDuration": 2400,
        "JobNotification": 0,
        "NiceUser": False,
        "CoreSize": -1,
        "MinHosts": 1,
        "MaxHosts": 1,
        "CurrentHosts": 0 if finished else 1,
        "Managed": "Schedd",
        "HasPrioCorrection": classad2.Value.Undefined,
        "CMS_JobRetryCount": 0,
        "CMS_SubmissionTool": "CRAB" if crab else "WMAgent",
        "ChirpCMSSWCPUModels": rng.choice(CPUS),
        "ChirpCMSSWLastUpdate": start + wall - 30,
        "ChirpCMSSW_cmsRun1_Events": rng.randrange(0, 200_000),
        "ChirpCMSSW_cmsRun1_Files": rng.randrange(0, 20),
        "ChirpCMSSW_cmsRun1_Lumis": rng.randrange(0, 500),
        "ChirpCMSSW_cmsRun1_MaxFiles": 20,
        "ChirpCMSSW_cmsRun1_MaxLumis": 500,
        "ChirpCMSSW_cmsRun1_Elapsed": rng.randrange(60, wall),
        "ChirpCMSSW_cmsRun1_ReadBytes": rng.randrange(0, 10**10),
        "ChirpCMSSW_cmsRun1_ReadOps": rng.randrange(0, 10**6),
        "ChirpCMSSW_cmsRun1_ReadTimeMsecs": rng.randrange(0, 10**7),
        "ChirpCMSSW_cmsRun1_WriteBytes": rng.randrange(0, 10**9),
        "ChirpCMSSW_cmsRun1_LastUpdate": start + wall - 30,
        "ChirpCMSSW_cmsRun1_Done": 1 if finished else 0,
        "ChirpCMSSW_cmsRun1_IOSite_T2_CH_CERN_ReadBytes": rng.randrange(0, 10**10),
        "ChirpCMSSW_cmsRun1_IOSite_T2_CH_CERN_ReadTimeMS": rng.randrange(0, 10**7),
        f"ChirpCMSSW_cmsRun1_IOSite_{site}_ReadBytes": rng.randrange(0, 10**10),
        f"ChirpCMSSW_cmsRun1_IOSite_{site}_ReadTimeMS": rng.randrange(0, 10**7),
        "StatsLifetimeStarter": wall,
        "RecentStatsLifetimeStarter": 1200,
        "LastHoldReason": classad2.Value.Undefined,
        "SubmitEventNotes": classad2.Value.Undefined,
        "ServerTime": BASE_TIME,
    }
    if status == 5:
        ad["HoldReason"] = "Job exceeded memory limit: MemoryUsage 5120 > RequestMemory 2500"
        ad["HoldReasonCode"] = 34
        ad["HoldReasonSubCode"] = 0
    if status == 3:
        ad["RemoveReason"] = "via condor_rm (by user cmsdataops)"
    if finished:
        ad["CompletionDate"] = start + wall if status == 4 else 0
        ad["ExitCode"] = rng.choice([0, 0, 0, 0, 8001, 50664, 60307, 134])
        ad["ExitBySignal"] = False
        ad["JobFinishedHookDone"] = start + wall + 5
        ad["LastRemoteStatusUpdate"] = start + wall
    if rng.random() < 0.05:
        ad["JobAdInformationAttrs"] = _expr("error")
    return ad


def _crab(rng: random.Random, ad: dict[str, Any]) -> None:
    user = ad["Owner"]
    created = ad["QDate"] - rng.randrange(60, 3600)
    workflow = (
        f"{created}_{rng.randrange(100000, 999999)}:{user}_crab_{rng.choice(['ttbar', 'zmumu', 'jetht', 'dimuon'])}"
    )
    ad.update(
        {
            "CRAB_Workflow": workflow,
            "CRAB_ReqName": workflow,
            "CRAB_Id": str(ad["ProcId"] + 1),
            "CRAB_Retry": rng.randrange(0, 3),
            "CRAB_JobCount": rng.randrange(10, 5000),
            "CRAB_UserHN": user,
            "CRAB_UserDN": ad["x509userproxysubject"],
            "CRAB_UserGroup": classad2.Value.Undefined,
            "CRAB_UserRole": classad2.Value.Undefined,
            "CRAB_JobSW": rng.choice(CMSSW),
            "CRAB_JobArch": "el8_amd64_gcc11",
            "CRAB_JobType": "analysis",
            "CRAB_SplitAlgo": rng.choice(["FileBased", "LumiBased", "Automatic", "EventAwareLumiBased"]),
            "CRAB_InputData": rng.choice(DATASETS),
            "CRAB_PrimaryDataset": "JetHT",
            "CRAB_DBSURL": "https://cmsweb.cern.ch/dbs/prod/global/DBSReader",
            "CRAB_PublishGroupName": 0,
            "CRAB_AsyncDest": rng.choice(SITES),
            "CRAB_OutLFNDir": f"/store/user/{user}/JetHT/crab_jetht/{created}",
            "CRAB_EDMOutputFiles": {"output.root"},
            "CRAB_TFileOutputFiles": ["histos.root"],
            "CRAB_AdditionalOutputFiles": [],
            "CRAB_SiteBlacklist": ["T2_IT_Bari"],
            "CRAB_SiteWhitelist": rng.sample(SITES, 4),
            "CRAB_TaskCreationDate": created,
            "CRAB_RestHost": "cmsweb.cern.ch",
            "CRAB_ASOTimeout": 86400,
            "CRAB_StageoutPolicy": "local,remote",
            "CRAB_NumAutomJobRetries": 2,
            "CRAB_oneEventMode": 0,
            "CRAB_PostJobStatus": rng.choice(["NOT RUN", "COOLOFF", "FINISHED", "FAILED"]),
            "CRAB_PostJobLastUpdate": ad["EnteredCurrentStatus"] + 300,
            "CRAB_DataBlock": f"{DATASETS[0]}#1234-abcd",
            "Chirp_CRAB3_Job_ExitCode": ad.get("ExitCode", 0),
            "DAGManJobId": ad["ClusterId"] - 1,
            "DAGNodeName": f"Job{ad['ProcId'] + 1}",
            "DAGParentNodeNames": "",
            "CMS_JobType": "Analysis",
            "CMS_WMTool": "CRAB",
            "CMS_TaskType": "Analysis",
            "CMSGroups": "/cms,/cms/uscms",
            "PostJobPrio1": -created,
            "PostJobPrio2": 0,
        }
    )


def _production(rng: random.Random, ad: dict[str, Any]) -> None:
    campaign = rng.choice(["Run3Summer23wmLHEGS", "RunIISummer20UL18", "Run3Winter24Reco", "PromptReco_Run2024D"])
    task = rng.choice(["Production", "Processing", "Merge", "LogCollect", "Cleanup", "Harvesting"])
    request = (
        f"cmsunified_task_{campaign}_{rng.randrange(10000, 99999)}_v1__{ad['QDate'] - 86400}_{rng.randrange(100, 999)}"
    )
    ad.update(
        {
            "WMAgent_RequestName": request,
            "WMAgent_SubTaskName": f"/{request}/{campaign}_0/{campaign}_0MergeRAWSIMoutput",
            "WMAgent_JobID": rng.randrange(1_000_000, 9_999_999),
            "WMAgent_AgentName": f"vocms0{rng.randrange(250, 290)}.cern.ch",
            "WMAgent_TaskType": task,
            "CMS_JobType": task,
            "CMS_WMTool": "WMAgent",
            "CMS_CampaignName": campaign,
            "CMS_CampaignType": rng.choice(["MC", "Data", "RelVal"]),
            "CMS_RequestType": rng.choice(["TaskChain", "StepChain", "ReReco"]),
            "CMS_Priority": rng.randrange(80000, 300000),
            "CMS_ExtraRequirements": "",
            "CMSPrimaryDataTier": rng.choice(["GEN-SIM", "AODSIM", "MINIAODSIM", "NANOAOD"]),
            "CMSPrimaryPrimaryDataset": rng.choice(["TTTo2L2Nu", "DYJetsToLL", "QCD_Pt-15to7000"]),
            "CMSPrimaryProcessedDataset": f"{campaign}-130X_mcRun3_2023_realistic_v14-v2",
            "CMSSWVersion": rng.choice(CMSSW),
            "CMSSWMajorVersion": "13",
            "CMSSWReleaseSeries": "CMSSW_13_0_X",
            "DESIRED_CMSDataset": rng.choice(DATASETS),
            "DESIRED_Overflow_Region": "none",
            "Original_DESIRED_Sites": ad["DESIRED_Sites"],
            "ExtDESIRED_Sites": ad["DESIRED_Sites"],
            "REQUIRES_LOCAL_DATA": rng.random() < 0.5,
            "HasBeenRouted": False,
            "Chirp_WMCore_cmsRun_ExitCode": ad.get("ExitCode", 0),
            "Chirp_WMCore_cmsRun1_Exception_Message": WMCORE_EXCEPTION,
            "TaskType": rng.choice(["Production", "Processing", "Merge"]) if rng.random() > 0.01 else "ROOT",
            "JobAdInformationAttrs": "MATCH_EXP_JOBGLIDEIN_CMSSite,JOBGLIDEIN_CMSSite,RemoteSysCpu,RemoteUserCpu",
        }
    )


def _status(rng: random.Random, kind: Kind) -> int:
    if kind == "queue":
        return rng.choice(QUEUE_STATUS)
    if kind in ("history", "crab", "production"):
        return rng.choice(HISTORY_STATUS)
    return rng.choice(QUEUE_STATUS + HISTORY_STATUS)


def _to_classad(values: dict[str, Any]) -> classad2.ClassAd:
    ad = classad2.ClassAd()
    for name, value in values.items():
        ad[name] = value
    return ad


def realistic_ads(n: int, seed: int = 0, kind: Kind = "mixed") -> list[classad2.ClassAd]:
    """`n` ads; kind: mixed (CRAB and WMAgent, queue and history), history, queue, crab or production."""
    return list(iter_ads(n, seed, kind))


def iter_ads(n: int, seed: int = 0, kind: Kind = "mixed") -> Iterator[classad2.ClassAd]:
    rng = random.Random(seed)
    for i in range(n):
        crab = kind == "crab" or (kind != "production" and rng.random() < 0.6)
        values = _common(rng, i, _status(rng, kind), crab)
        (_crab if crab else _production)(rng, values)
        yield _to_classad(values)


def raw_messages(
    ads: list[classad2.ClassAd],
    *,
    source: str = "condor_history",
    pool: str = "Global",
    collected_at: float = BASE_TIME,
) -> list[tuple[bytes | None, bytes]]:
    """The (key, value) raw messages the collector would publish for these ads."""
    return [
        raw_message.encode(
            ad, source=source, pool=pool, schedd=ad["GlobalJobId"].split("#")[0], collected_at=collected_at
        )
        for ad in ads
    ]


def history_text(ads: list[classad2.ClassAd]) -> str:
    """The ads as a schedd history file: old ClassAd syntax, each ad followed by its `***` banner."""
    parts = []
    for ad in ads:
        parts.append(ad.printOld())
        parts.append(f"*** ProcId = {ad['ProcId']} ClusterId = {ad['ClusterId']} CompletionDate = 0\n")
    return "".join(parts)
