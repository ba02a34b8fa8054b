GlobalJobId = "vocms0250.cern.ch#1001.0#1732373600"
ClusterId = 1001
ProcId = 0
JobUniverse = 5
JobStatus = 2
QDate = 1732373600
EnteredCurrentStatus = 1732459400
CMS_Type = "production"
Owner = "cmsunified"
AcctGroup = "production"
CMS_JobType = "Processing"
WMAgent_RequestName = "pdmvserv_task_HIG-RunIISummer20UL18wmLHEGEN-03000__v1_T_241120_101010_1234"
RequestCpus = 8
RequestMemory = ifthenelse(MemoryUsage =!= undefined, MemoryUsage, 16000)
MemoryUsage = ((ResidentSetSize + 1023) / 1024)
ResidentSetSize = 9876543
RemoteWallClockTime = 35000.0
RemoteSysCpu = 300.0
RemoteUserCpu = 210000.0
JobCurrentStartDate = 1732424400
CompletionDate = 0
MATCH_EXP_JOBGLIDEIN_CMSSite = "T2_CH_CERN"
DESIRED_Sites = "T2_CH_CERN,T1_US_FNAL,T2_DE_DESY"
LastRemoteHost = "slot1_1@glidein_12345_67890@b7g18p1234.cern.ch"
NumJobStarts = 1
JobPrio = 400000
x509userproxysubject = "/DC=ch/DC=cern/OU=computers/CN=pdmvserv/vocms0250.cern.ch"

GlobalJobId = "vocms0250.cern.ch#1001.1#1732373600"
ClusterId = 1001
ProcId = 1
JobUniverse = 5
JobStatus = 1
QDate = 1732373600
EnteredCurrentStatus = 1732456400
CMS_Type = "production"
Owner = "cmsunified"
AcctGroup = "production"
CMS_JobType = "Processing"
WMAgent_RequestName = "pdmvserv_task_HIG-RunIISummer20UL18wmLHEGEN-03000__v1_T_241120_101010_1234"
RequestCpus = 8
RequestMemory = ifthenelse(MemoryUsage =!= undefined, MemoryUsage, 16000)
MemoryUsage = ((ResidentSetSize + 1023) / 1024)
ResidentSetSize = 9876543
RemoteWallClockTime = 35000.0
RemoteSysCpu = 300.0
RemoteUserCpu = 210000.0
JobCurrentStartDate = 1732421400
CompletionDate = 0
MATCH_EXP_JOBGLIDEIN_CMSSite = "T2_CH_CERN"
DESIRED_Sites = "T2_CH_CERN,T1_US_FNAL,T2_DE_DESY"
LastRemoteHost = "slot1_1@glidein_12345_67890@b7g18p1234.cern.ch"
NumJobStarts = 1
JobPrio = 400000
x509userproxysubject = "/DC=ch/DC=cern/OU=computers/CN=pdmvserv/vocms0250.cern.ch"

GlobalJobId = "vocms0250.cern.ch#1001.2#1732373600"
ClusterId = 1001
ProcId = 2
JobUniverse = 5
JobStatus = 5
QDate = 1732373600
EnteredCurrentStatus = 1732452800
CMS_Type = "production"
Owner = "cmsunified"
AcctGroup = "production"
CMS_JobType = "Processing"
WMAgent_RequestName = "pdmvserv_task_HIG-RunIISummer20UL18wmLHEGEN-03000__v1_T_241120_101010_1234"
RequestCpus = 8
RequestMemory = ifthenelse(MemoryUsage =!= undefined, MemoryUsage, 16000)
MemoryUsage = ((ResidentSetSize + 1023) / 1024)
ResidentSetSize = 9876543
RemoteWallClockTime = 35000.0
RemoteSysCpu = 300.0
RemoteUserCpu = 210000.0
JobCurrentStartDate = 1732417800
CompletionDate = 0
MATCH_EXP_JOBGLIDEIN_CMSSite = "T2_CH_CERN"
DESIRED_Sites = "T2_CH_CERN,T1_US_FNAL,T2_DE_DESY"
LastRemoteHost = "slot1_1@glidein_12345_67890@b7g18p1234.cern.ch"
NumJobStarts = 1
JobPrio = 400000
x509userproxysubject = "/DC=ch/DC=cern/OU=computers/CN=pdmvserv/vocms0250.cern.ch"

GlobalJobId = "vocms0250.cern.ch#1000.0#1732373600"
ClusterId = 1000
ProcId = 0
JobUniverse = 5
JobStatus = 4
QDate = 1732373600
EnteredCurrentStatus = 1732458800
CMS_Type = "production"
Owner = "cmsunified"
AcctGroup = "production"
CMS_JobType = "Processing"
WMAgent_RequestName = "pdmvserv_task_HIG-RunIISummer20UL18wmLHEGEN-03000__v1_T_241120_101010_1234"
RequestCpus = 8
RequestMemory = ifthenelse(MemoryUsage =!= undefined, MemoryUsage, 16000)
MemoryUsage = ((ResidentSetSize + 1023) / 1024)
ResidentSetSize = 9876543
RemoteWallClockTime = 35000.0
RemoteSysCpu = 300.0
RemoteUserCpu = 210000.0
JobCurrentStartDate = 1732423800
CompletionDate = 1732458800
MATCH_EXP_JOBGLIDEIN_CMSSite = "T2_CH_CERN"
DESIRED_Sites = "T2_CH_CERN,T1_US_FNAL,T2_DE_DESY"
LastRemoteHost = "slot1_1@glidein_12345_67890@b7g18p1234.cern.ch"
ExitCode = 0
NumJobStarts = 1
JobPrio = 400000
x509userproxysubject = "/DC=ch/DC=cern/OU=computers/CN=pdmvserv/vocms0250.cern.ch"

GlobalJobId = "vocms0250.cern.ch#999.0#1732373600"
ClusterId = 999
ProcId = 0
JobUniverse = 5
JobStatus = 3
QDate = 1732373600
EnteredCurrentStatus = 1732430000
CMS_Type = "production"
Owner = "cmsunified"
AcctGroup = "production"
CMS_JobType = "Processing"
WMAgent_RequestName = "pdmvserv_task_HIG-RunIISummer20UL18wmLHEGEN-03000__v1_T_241120_101010_1234"
RequestCpus = 8
RequestMemory = ifthenelse(MemoryUsage =!= undefined, MemoryUsage, 16000)
MemoryUsage = ((ResidentSetSize + 1023) / 1024)
ResidentSetSize = 9876543
RemoteWallClockTime = 35000.0
RemoteSysCpu = 300.0
RemoteUserCpu = 210000.0
JobCurrentStartDate = 1732395000
CompletionDate = 0
MATCH_EXP_JOBGLIDEIN_CMSSite = "T2_CH_CERN"
DESIRED_Sites = "T2_CH_CERN,T1_US_FNAL,T2_DE_DESY"
LastRemoteHost = "slot1_1@glidein_12345_67890@b7g18p1234.cern.ch"
NumJobStarts = 1
JobPrio = 400000
x509userproxysubject = "/DC=ch/DC=cern/OU=computers/CN=pdmvserv/vocms0250.cern.ch"

GlobalJobId = "vocms0250.cern.ch#1002.0#1732373600"
ClusterId = 1002
ProcId = 0
JobUniverse = 7
JobStatus = 2
QDate = 1732373600
EnteredCurrentStatus = 1732459940
CMS_Type = "production"
Owner = "cmsunified"
AcctGroup = "production"
CMS_JobType = "Processing"
WMAgent_RequestName = "pdmvserv_task_HIG-RunIISummer20UL18wmLHEGEN-03000__v1_T_241120_101010_1234"
RequestCpus = 8
RequestMemory = ifthenelse(MemoryUsage =!= undefined, MemoryUsage, 16000)
MemoryUsage = ((ResidentSetSize + 1023) / 1024)
ResidentSetSize = 9876543
RemoteWallClockTime = 35000.0
RemoteSysCpu = 300.0
RemoteUserCpu = 210000.0
JobCurrentStartDate = 1732424940
CompletionDate = 0
MATCH_EXP_JOBGLIDEIN_CMSSite = "T2_CH_CERN"
DESIRED_Sites = "T2_CH_CERN,T1_US_FNAL,T2_DE_DESY"
LastRemoteHost = "slot1_1@glidein_12345_67890@b7g18p1234.cern.ch"
NumJobStarts = 1
JobPrio = 400000
x509userproxysubject = "/DC=ch/DC=cern/OU=computers/CN=pdmvserv/vocms0250.cern.ch"

GlobalJobId = "vocms0250.cern.ch#1003.0#1732373600"
ClusterId = 1003
ProcId = 0
JobUniverse = 5
JobStatus = 2
QDate = 1732373600
EnteredCurrentStatus = 1732459940
CMS_Type = "DONOTMONIT"
Owner = "cmsunified"
AcctGroup = "production"
CMS_JobType = "Processing"
WMAgent_RequestName = "pdmvserv_task_HIG-RunIISummer20UL18wmLHEGEN-03000__v1_T_241120_101010_1234"
RequestCpus = 8
RequestMemory = ifthenelse(MemoryUsage =!= undefined, MemoryUsage, 16000)
MemoryUsage = ((ResidentSetSize + 1023) / 1024)
ResidentSetSize = 9876543
RemoteWallClockTime = 35000.0
RemoteSysCpu = 300.0
RemoteUserCpu = 210000.0
JobCurrentStartDate = 1732424940
CompletionDate = 0
MATCH_EXP_JOBGLIDEIN_CMSSite = "T2_CH_CERN"
DESIRED_Sites = "T2_CH_CERN,T1_US_FNAL,T2_DE_DESY"
LastRemoteHost = "slot1_1@glidein_12345_67890@b7g18p1234.cern.ch"
NumJobStarts = 1
JobPrio = 400000
x509userproxysubject = "/DC=ch/DC=cern/OU=computers/CN=pdmvserv/vocms0250.cern.ch"
