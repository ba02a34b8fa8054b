MyType = "Scheduler"
Name = "vocms0250.cern.ch"
MyAddress = "<137.138.1.250:4080?addrs=137.138.1.250-4080&alias=vocms0250.cern.ch&noUDP&sock=schedd_1234_abcd>"
ScheddIpAddr = "<137.138.1.250:4080?addrs=137.138.1.250-4080&noUDP&sock=schedd_1234_abcd>"
CondorVersion = "$CondorVersion: 24.0.3 2024-12-05 BuildID: 770654 PackageID: 24.0.3-1 $"
CMSGWMS_Type = "prodschedd"
TotalRunningJobs = 4120
