"""Realistic CMS job ads for benchmarks and load tests: `realistic_ads(n, seed, kind, diverse=True)`.

Each ad has 200-230 attributes (6-9 KB in the old ClassAd syntax), shaped like what the CMS global pool
schedds hold: CRAB analysis and WMAgent production jobs with glidein MATCH_EXP_ attributes, machine
attributes, per-step and per-IOSite Chirp statistics, expressions (RequestMemory, Requirements,
periodic policies), undefined values and the occasional error value. Deterministic for a given seed.

Diverse (the default) is what a schedd's history holds: almost every job has an attribute list of its own.
The `ChirpCMSSW_<step>_IOSite_<site>_*` keys name the sites the job read, the per-step Chirp keys follow its
cmsRun steps, `MachineAttr<name><N>` come from the slots it matched, hold/evict/restart attributes appear
only for jobs that had them, users add `+Attr`s of any type (the same name holds an int in one job and a
list or a nested ClassAd in the next), CMS attributes change type where they do in production (glidein
values as text or numbers, expressions or literals), and a few names no index can hold (dots, a leading
underscore, over 256 bytes). The attribute order is the ClassAd's own, as a schedd writes it.
`diverse=False` gives the uniform ads of earlier benchmarks (a few hundred attribute lists), for comparison.
"""

from __future__ import annotations

import base64
import random
import zlib
from collections.abc import Iterable, Iterator
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


# Per-step statistics a cmsRun step chirps: the first step reads the input, the later ones mostly local files
STEP_STATISTICS = ("Events", "Elapsed", "WriteBytes", "LastUpdate")
FIRST_STEP_STATISTICS = ("Files", "Lumis", "ReadBytes", "ReadOps", "ReadTimeMsecs")
OPTIONAL_STATISTICS = ("MaxFiles", "MaxLumis", "ReadSegments", "ReadVOps", "WriteTimeMsecs", "ReadCachedBytes")
# Slot attributes a pool's JobMachineAttrs copies into the job (MachineAttr<name><N>, N = 0 for the last match)
MACHINE_ATTRS = ("GLIDEIN_CMSSite", "CMSSubSiteName", "Cpus", "SlotWeight")
OPTIONAL_MACHINE_ATTRS = ("CUDACapability", "MJF_JOB_HS06_JOB", "DIRACBenchmark", "GLIDEIN_Gatekeeper", "Memory")
CUSTOM_NAMES = (  # users' own +Attrs in submit files
    "AnalysisTag",
    "SampleName",
    "InputFileCount",
    "EventWeight",
    "UseGPU",
    "IsSignal",
    "MassPoint",
    "RunRange",
    "ConfigHash",
    "JobOptions",
    "Era",
    "LumiMask",
    "ProcessingVersion",
    "DebugLevel",
    "CustomSites",
    "OutputTag",
)
ODD_SHARE = 0.02  # ads carrying a name no index can hold
ATTRIBUTES = (200, 230)  # how many a production job ad has
TEXT_BYTES = 8800  # at most (an estimate), in the old ClassAd syntax (production ads: 6-9 KB)
OPTIONAL_TROUBLE = ("VacateReasonSubCode", "NumShadowExceptions", "LastRejMatchTime", "LastReleasedTime")


def _custom_value(rng: random.Random, i: int) -> Any:
    """A value of a type chosen per job: the same +Attr name holds different types in different jobs."""
    kind = rng.randrange(7)
    if kind == 0:
        return rng.randrange(-5, 100_000)
    if kind == 1:
        return round(rng.uniform(0, 1000), 4)
    if kind == 2:
        return rng.random() < 0.5
    if kind == 3:
        return f"v{i % 97}_" + rng.choice(DATASETS).split("/")[1][: rng.randrange(4, 40)]
    if kind == 4:
        return [rng.randrange(1000) for _ in range(rng.randrange(0, 6))]
    if kind == 5:
        return rng.sample(SITES, rng.randrange(1, 4))
    return {"Mass": rng.randrange(100, 3000), "Tag": rng.choice(CMSSW), "Weights": [round(rng.random(), 3)] * 2}


def _chirp_steps(rng: random.Random, ad: dict[str, Any], crab: bool, finished: bool) -> None:
    """Per-step Chirp keys for the job's own cmsRun steps and the sites its first step read from."""
    for key in [key for key in ad if key.startswith("ChirpCMSSW_cmsRun1_")]:
        del ad[key]
    steps = 1 if crab else rng.choice((1, 1, 1, 2, 2, 3, 4))
    if not finished:
        steps = rng.randrange(1, steps + 1)
    wall = max(ad["CommittedTime"], 600)
    for n in range(1, steps + 1):
        prefix = f"ChirpCMSSW_cmsRun{n}_"
        names = STEP_STATISTICS + (FIRST_STEP_STATISTICS if n == 1 else ())
        names += tuple(name for name in OPTIONAL_STATISTICS if rng.random() < (0.5 if n == 1 else 0.15))
        for name in names:
            ad[prefix + name] = rng.randrange(0, 10**9) if name != "LastUpdate" else ad["JobStartDate"] + wall - 30
        if finished:
            ad[prefix + "Done"] = 1
    read = rng.sample(SITES, rng.choice((1, 1, 2, 2, 3, 4)))
    for site in dict.fromkeys([ad["MATCH_EXP_JOB_GLIDEIN_CMSSite"], *read][: len(read)]):
        ad[f"ChirpCMSSW_cmsRun1_IOSite_{site}_ReadBytes"] = rng.randrange(0, 10**10)
        ad[f"ChirpCMSSW_cmsRun1_IOSite_{site}_ReadTimeMS"] = rng.randrange(0, 10**7)


def _machine_attrs(rng: random.Random, ad: dict[str, Any]) -> None:
    """MachineAttr<name><N> for the attributes the pool copies and the job's last matches (N = 0 the latest)."""
    for key in [key for key in ad if key.startswith("MachineAttr")]:
        del ad[key]
    names = MACHINE_ATTRS + tuple(name for name in OPTIONAL_MACHINE_ATTRS if rng.random() < 0.3)
    ad["JobMachineAttrs"] = ",".join(names)
    cpus = ad["RequestCpus"] if isinstance(ad["RequestCpus"], int) else 1
    for n in range(min(ad["NumJobMatches"], rng.choice((1, 1, 1, 2, 3)))):
        site = ad["MATCH_EXP_JOB_GLIDEIN_CMSSite"] if n == 0 else rng.choice(SITES)
        values = {
            "GLIDEIN_CMSSite": site,
            "CMSSubSiteName": site.split("_", 2)[-1],
            "Cpus": cpus,
            "SlotWeight": cpus,
            "CUDACapability": rng.choice((7.5, 8.0, "8.6", classad2.Value.Undefined)),
            "MJF_JOB_HS06_JOB": round(rng.uniform(8, 20) * cpus, 2) if rng.random() < 0.9 else 0,
            "DIRACBenchmark": round(rng.uniform(10, 30), 3),
            "GLIDEIN_Gatekeeper": f"ce{rng.randrange(1, 20)}.{site[3:5].lower()}:9619",
            "Memory": 2500 * cpus,
        }
        for name in names:
            ad[f"MachineAttr{name}{n}"] = values[name]


def _history_of_trouble(rng: random.Random, ad: dict[str, Any], status: int) -> None:
    """Hold, eviction, restart and exception attributes, only for the jobs that had them."""
    del ad["LastHoldReason"]
    if not ad.get("ExitCode") and "Chirp_WMCore_cmsRun1_Exception_Message" in ad:
        del ad["Chirp_WMCore_cmsRun1_Exception_Message"]
    start = ad["JobStartDate"]
    if status == 5 or rng.random() < 0.12:
        holds = rng.randrange(1, 4)
        ad["NumHolds"] = holds
        ad["NumHoldsByReason"] = {"JobPolicy": holds} if rng.random() < 0.7 else {"UserRequest": 1, "JobPolicy": holds}
        ad["LastHoldReason"] = "The job attribute PeriodicHold expression 'MemoryUsage > RequestMemory' is true"
        ad["LastHoldReasonCode"] = rng.choice((3, 12, 13, 21, 34))
        ad["LastHoldReasonSubCode"] = rng.choice((0, 2, 110))
        if status != 5:
            ad["ReleaseReason"] = "via condor_release (by user cmsdataops)"
            ad["LastReleasedTime"] = start + 600
    if rng.random() < 0.15:
        ad["LastVacateTime"] = start + rng.randrange(60, 3600)
        ad["VacateReason"] = rng.choice(("Job was evicted.", "The startd is shutting down.", "Claim deactivated"))
        ad["VacateReasonCode"] = rng.choice((21, 22, 35))
        ad["VacateReasonSubCode"] = rng.randrange(0, 3)
        ad["NumShadowExceptions"] = rng.randrange(0, 3)
    if rng.random() < 0.08:
        ad["NumRestarts"] = rng.randrange(1, 4)
        ad["NumJobReconnects"] = rng.randrange(1, 3)
        ad["JobCurrentReconnectAttempt"] = 0
        ad["LastRejMatchReason"] = "no match found "
        ad["LastRejMatchTime"] = start - rng.randrange(60, 600)
    else:
        del ad["NumRestarts"]


def _varied_types(rng: random.Random, ad: dict[str, Any], crab: bool) -> None:
    """The types CMS attributes take in production, which depend on the glidein version, the submit tool and
    whether the value was written as an expression."""
    for name in ("ClusterId", "ProcId", "SiteWMS_JobId", "Memory", "MaxMemMBs", "ToDie", "ToRetire"):
        key = f"MATCH_EXP_JOB_GLIDEIN_{name}"
        if rng.random() < 0.3:
            ad[key] = int(ad[key])
    if rng.random() < 0.01:
        ad["MATCH_EXP_JOB_GLIDEIN_MaxMemMBs"] = "GLIDEIN_MaxMemMBs"  # unexpanded pilot macro
    if rng.random() < 0.3:
        ad["x509UserProxyFQAN"] = ad["x509UserProxyFQAN"].split(",")
    if rng.random() < 0.2:
        ad["DESIRED_OpSysMajorVers"] = 8
    if rng.random() < 0.1:
        ad["DESIRED_CMSDataLocations"] = classad2.Value.Undefined
    if rng.random() < 0.1:
        ad["MaxWallTimeMins"] = _expr("ifThenElse(isUndefined(MachineAttrCpus0), 1250, 2700)")
    if rng.random() < 0.05:
        ad["OriginalCpus"], ad["RequestCpus"] = ad["RequestCpus"], _expr("OriginalCpus")
    if crab:
        if rng.random() < 0.4:
            ad["CRAB_Id"] = int(ad["CRAB_Id"])
        if rng.random() < 0.3:
            ad["CRAB_SiteWhitelist"] = ",".join(ad["CRAB_SiteWhitelist"])
        if rng.random() < 0.5:
            ad["Chirp_CRAB3_Job_ExitCode"] = str(ad["Chirp_CRAB3_Job_ExitCode"])
    else:
        if rng.random() < 0.3:
            ad["CMSSWMajorVersion"] = 13
        if rng.random() < 0.2:
            ad["REQUIRES_LOCAL_DATA"] = "True"


def _custom_attrs(rng: random.Random, ad: dict[str, Any], i: int) -> None:
    """Users' +Attrs: a few names from a common set, of a type chosen per job, sometimes one of the user's own."""
    for name in rng.sample(CUSTOM_NAMES, rng.randrange(0, 6)):
        ad[name] = _custom_value(rng, i)
    if rng.random() < 0.2:
        ad[f"{ad['Owner']}_{rng.choice(CUSTOM_NAMES)}"] = _custom_value(rng, i)
    if rng.random() < ODD_SHARE:
        odd = rng.choice(
            (f"{ad['Owner']}.{rng.choice(CUSTOM_NAMES)}", f"_{rng.choice(CUSTOM_NAMES)}", "Note" + "x" * 260)
        )
        ad[odd] = _custom_value(rng, i)


def _fit(rng: random.Random, ad: dict[str, Any], i: int) -> None:
    """Between 200 and 230 attributes and at most ~8.8 KB: +Attrs added, or optional attributes (+Attrs, older
    matches' machine attributes, optional step statistics, details of evictions) removed."""
    low, high = ATTRIBUTES
    spare = [name for name in CUSTOM_NAMES if name not in ad]
    while len(ad) < low and spare:
        ad[spare.pop(rng.randrange(len(spare)))] = _custom_value(rng, i)
    optional = [
        key
        for key in ad
        if key in CUSTOM_NAMES
        or key in OPTIONAL_TROUBLE
        or (key.startswith("MachineAttr") and not key.endswith("0"))
        or (key.startswith("ChirpCMSSW_cmsRun") and key.rpartition("_")[2] in OPTIONAL_STATISTICS)
    ]
    rng.shuffle(optional)
    size = sum(len(key) + len(str(value)) + 5 for key, value in ad.items())  # ~ "key = value\n" with quotes
    while optional and len(ad) > low and (len(ad) > high or size > TEXT_BYTES):
        key = optional.pop()
        size -= len(key) + len(str(ad.pop(key))) + 5


def _diversify(rng: random.Random, ad: dict[str, Any], i: int, status: int, crab: bool) -> None:
    """What makes each job's attribute list its own (see the module docstring)."""
    _chirp_steps(rng, ad, crab, status in (3, 4))
    _machine_attrs(rng, ad)
    _history_of_trouble(rng, ad, status)
    _varied_types(rng, ad, crab)
    _custom_attrs(rng, ad, i)
    _fit(rng, ad, i)


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


def realistic_ads(n: int, seed: int = 0, kind: Kind = "mixed", *, diverse: bool = True) -> list[classad2.ClassAd]:
    """`n` ads; kind: mixed (CRAB and WMAgent, queue and history), history, queue, crab or production;
    diverse: nearly every ad with its own attribute list (False: the uniform ads of earlier benchmarks)."""
    return list(iter_ads(n, seed, kind, diverse=diverse))


def iter_ads(n: int, seed: int = 0, kind: Kind = "mixed", *, diverse: bool = True) -> Iterator[classad2.ClassAd]:
    rng = random.Random(seed)
    variety = random.Random(f"diverse-{seed}")  # its own stream: the uniform ads stay those of earlier benchmarks
    for i in range(n):
        crab = kind == "crab" or (kind != "production" and rng.random() < 0.6)
        status = _status(rng, kind)
        values = _common(rng, i, status, crab)
        (_crab if crab else _production)(rng, values)
        if diverse:
            _diversify(variety, values, i, status, crab)
        yield _to_classad(values)


def shape_summary(ads: Iterable[classad2.ClassAd]) -> str:
    """The diversity and size of these ads, as the benchmarks print it (one pass: ads may be a generator)."""
    lists, sizes, texts = set(), [], []
    for ad in ads:
        lists.add(hash(tuple(ad.keys())))
        sizes.append(len(ad))
        texts.append(len(ad.printOld()))
    n = max(len(sizes), 1)
    return (
        f"{len(lists) / n:.1%} unique attribute lists ({len(lists):,} in {len(sizes):,} ads), "
        f"{min(sizes)}-{max(sizes)} attributes, {min(texts) / 1000:.1f}-{max(texts) / 1000:.1f} KB as ClassAd text"
    )


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
    """The ads as a schedd history file: old ClassAd syntax, each ad followed by its `***` banner. A name that
    syntax cannot hold (the dotted odd names, which only JSON ads carry: a schedd never writes one) is left out,
    else the whole ad would be unreadable."""
    parts = []
    for ad in ads:
        dotted = [name for name in ad if "." in name]
        if dotted:
            ad = classad2.ClassAd({name: ad.lookup(name) for name in ad if name not in dotted})
        parts.append(ad.printOld())
        parts.append(f"*** ProcId = {ad['ProcId']} ClusterId = {ad['ClusterId']} CompletionDate = 0\n")
    return "".join(parts)
