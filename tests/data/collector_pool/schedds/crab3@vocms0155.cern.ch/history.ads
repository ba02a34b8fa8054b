*** ProcId = 0 ClusterId = 900 Owner = "cmsunified" CompletionDate = 1729004000
GlobalJobId = "crab3@vocms0155.cern.ch#900.0#1732373600"
ClusterId = 900
ProcId = 0
JobUniverse = 5
JobStatus = 4
QDate = 1732373600
EnteredCurrentStatus = 1729004000
CMS_Type = "production"
Owner = "jdoe"
AcctGroup = "analysis"
CMS_JobType = "Analysis"
CRAB_ReqName = "241123_120000:jdoe_crab_ttbar"
CRAB_PostJobLastUpdate = 1729004300
CRAB_Workflow = "241123_120000:jdoe_crab_ttbar"
RequestCpus = 8
RequestMemory = ifthenelse(MemoryUsage =!= undefined, MemoryUsage, 16000)
MemoryUsage = ((ResidentSetSize + 1023) / 1024)
ResidentSetSize = 9876543
RemoteWallClockTime = 35000.0
RemoteSysCpu = 300.0
RemoteUserCpu = 210000.0
JobCurrentStartDate = 1728969000
CompletionDate = 1729004000
MATCH_EXP_JOBGLIDEIN_CMSSite = "T2_CH_CERN"
DESIRED_Sites = "T2_CH_CERN,T1_US_FNAL,T2_DE_DESY"
LastRemoteHost = "slot1_1@glidein_12345_67890@b7g18p1234.cern.ch"
ExitCode = 0
NumJobStarts = 1
JobPrio = 400000
x509userproxysubject = "/DC=ch/DC=cern/OU=computers/CN=pdmvserv/vocms0250.cern.ch"
*** ProcId = 1 ClusterId = 900 Owner = "cmsunified" CompletionDate = 1732287200
GlobalJobId = "crab3@vocms0155.cern.ch#900.1#1732373600"
ClusterId = 900
ProcId = 1
JobUniverse = 5
JobStatus = 4
QDate = 1732373600
EnteredCurrentStatus = 1732287200
CMS_Type = "production"
Owner = "jdoe"
AcctGroup = "analysis"
CMS_JobType = "Analysis"
CRAB_ReqName = "241123_120000:jdoe_crab_ttbar"
CRAB_PostJobLastUpdate = 1732287500
CRAB_Workflow = "241123_120000:jdoe_crab_ttbar"
RequestCpus = 8
RequestMemory = ifthenelse(MemoryUsage =!= undefined, MemoryUsage, 16000)
MemoryUsage = ((ResidentSetSize + 1023) / 1024)
ResidentSetSize = 9876543
RemoteWallClockTime = 35000.0
RemoteSysCpu = 300.0
RemoteUserCpu = 210000.0
JobCurrentStartDate = 1732252200
CompletionDate = 1732287200
MATCH_EXP_JOBGLIDEIN_CMSSite = "T2_CH_CERN"
DESIRED_Sites = "T2_CH_CERN,T1_US_FNAL,T2_DE_DESY"
LastRemoteHost = "slot1_1@glidein_12345_67890@b7g18p1234.cern.ch"
ExitCode = 0
NumJobStarts = 1
JobPrio = 400000
x509userproxysubject = "/DC=ch/DC=cern/OU=computers/CN=pdmvserv/vocms0250.cern.ch"
*** ProcId = 2 ClusterId = 900 Owner = "cmsunified" CompletionDate = 1732420400
GlobalJobId = "crab3@vocms0155.cern.ch#900.2#1732373600"
ClusterId = 900
ProcId = 2
JobUniverse = 5
JobStatus = 4
QDate = 1732373600
EnteredCurrentStatus = 1732420400
CMS_Type = "production"
Owner = "jdoe"
AcctGroup = "analysis"
CMS_JobType = "Analysis"
CRAB_ReqName = "241123_120000:jdoe_crab_ttbar"
CRAB_PostJobLastUpdate = 1732420700
CRAB_Workflow = "241123_120000:jdoe_crab_ttbar"
RequestCpus = 8
RequestMemory = ifthenelse(MemoryUsage =!= undefined, MemoryUsage, 16000)
MemoryUsage = ((ResidentSetSize + 1023) / 1024)
ResidentSetSize = 9876543
RemoteWallClockTime = 35000.0
RemoteSysCpu = 300.0
RemoteUserCpu = 210000.0
JobCurrentStartDate = 1732385400
CompletionDate = 1732420400
MATCH_EXP_JOBGLIDEIN_CMSSite = "T2_CH_CERN"
DESIRED_Sites = "T2_CH_CERN,T1_US_FNAL,T2_DE_DESY"
LastRemoteHost = "slot1_1@glidein_12345_67890@b7g18p1234.cern.ch"
ExitCode = 0
NumJobStarts = 1
JobPrio = 400000
x509userproxysubject = "/DC=ch/DC=cern/OU=computers/CN=pdmvserv/vocms0250.cern.ch"
*** ProcId = 3 ClusterId = 900 Owner = "cmsunified" CompletionDate = 1732449200
GlobalJobId = "crab3@vocms0155.cern.ch#900.3#1732373600"
ClusterId = 900
ProcId = 3
JobUniverse = 5
JobStatus = 4
QDate = 1732373600
EnteredCurrentStatus = 1732449200
CMS_Type = "production"
Owner = "jdoe"
AcctGroup = "analysis"
CMS_JobType = "Analysis"
CRAB_ReqName = "241123_120000:jdoe_crab_ttbar"
CRAB_PostJobLastUpdate = 1732449500
CRAB_Workflow = "241123_120000:jdoe_crab_ttbar"
RequestCpus = 8
RequestMemory = ifthenelse(MemoryUsage =!= undefined, MemoryUsage, 16000)
MemoryUsage = ((ResidentSetSize + 1023) / 1024)
ResidentSetSize = 9876543
RemoteWallClockTime = 35000.0
RemoteSysCpu = 300.0
RemoteUserCpu = 210000.0
JobCurrentStartDate = 1732414200
CompletionDate = 1732449200
MATCH_EXP_JOBGLIDEIN_CMSSite = "T2_CH_CERN"
DESIRED_Sites = "T2_CH_CERN,T1_US_FNAL,T2_DE_DESY"
LastRemoteHost = "slot1_1@glidein_12345_67890@b7g18p1234.cern.ch"
ExitCode = 0
NumJobStarts = 1
JobPrio = 400000
x509userproxysubject = "/DC=ch/DC=cern/OU=computers/CN=pdmvserv/vocms0250.cern.ch"
*** ProcId = 4 ClusterId = 900 Owner = "cmsunified" CompletionDate = 1732458500
GlobalJobId = "crab3@vocms0155.cern.ch#900.4#1732373600"
ClusterId = 900
ProcId = 4
JobUniverse = 5
JobStatus = 4
QDate = 1732373600
EnteredCurrentStatus = 1732458500
CMS_Type = "production"
Owner = "jdoe"
AcctGroup = "analysis"
CMS_JobType = "Analysis"
CRAB_ReqName = "241123_120000:jdoe_crab_ttbar"
CRAB_PostJobLastUpdate = 1732458800
CRAB_Workflow = "241123_120000:jdoe_crab_ttbar"
RequestCpus = 8
RequestMemory = ifthenelse(MemoryUsage =!= undefined, MemoryUsage, 16000)
MemoryUsage = ((ResidentSetSize + 1023) / 1024)
ResidentSetSize = 9876543
RemoteWallClockTime = 35000.0
RemoteSysCpu = 300.0
RemoteUserCpu = 210000.0
JobCurrentStartDate = 1732423500
CompletionDate = 1732458500
MATCH_EXP_JOBGLIDEIN_CMSSite = "T2_CH_CERN"
DESIRED_Sites = "T2_CH_CERN,T1_US_FNAL,T2_DE_DESY"
LastRemoteHost = "slot1_1@glidein_12345_67890@b7g18p1234.cern.ch"
ExitCode = 0
NumJobStarts = 1
JobPrio = 400000
x509userproxysubject = "/DC=ch/DC=cern/OU=computers/CN=pdmvserv/vocms0250.cern.ch"
*** ProcId = 5 ClusterId = 900 Owner = "cmsunified" CompletionDate = 1732459700
GlobalJobId = "crab3@vocms0155.cern.ch#900.5#1732373600"
ClusterId = 900
ProcId = 5
JobUniverse = 5
JobStatus = 4
QDate = 1732373600
EnteredCurrentStatus = 1732459700
CMS_Type = "production"
Owner = "jdoe"
AcctGroup = "analysis"
CMS_JobType = "Analysis"
CRAB_ReqName = "241123_120000:jdoe_crab_ttbar"
CRAB_PostJobLastUpdate = 1732460000
CRAB_Workflow = "241123_120000:jdoe_crab_ttbar"
RequestCpus = 8
RequestMemory = ifthenelse(MemoryUsage =!= undefined, MemoryUsage, 16000)
MemoryUsage = ((ResidentSetSize + 1023) / 1024)
ResidentSetSize = 9876543
RemoteWallClockTime = 35000.0
RemoteSysCpu = 300.0
RemoteUserCpu = 210000.0
JobCurrentStartDate = 1732424700
CompletionDate = 1732459700
MATCH_EXP_JOBGLIDEIN_CMSSite = "T2_CH_CERN"
DESIRED_Sites = "T2_CH_CERN,T1_US_FNAL,T2_DE_DESY"
LastRemoteHost = "slot1_1@glidein_12345_67890@b7g18p1234.cern.ch"
ExitCode = 0
NumJobStarts = 1
JobPrio = 400000
x509userproxysubject = "/DC=ch/DC=cern/OU=computers/CN=pdmvserv/vocms0250.cern.ch"
