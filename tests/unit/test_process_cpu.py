"""CPU time of a process group as the benchmarks read it for the search servers (deploy/local/process.py)."""

import os
import time

from deploy.local import process


def test_group_cpu_grows_by_at_least_the_cpu_this_process_burns():
    group = os.getpgid(0)
    before, burnt = process.cpu_seconds(group), time.process_time()
    while time.process_time() - burnt < 0.3:
        sum(range(10_000))
    assert process.cpu_seconds(group) - before >= 0.29


def test_group_without_live_members_has_spent_nothing():
    assert process.cpu_seconds(2**22 + 1) == 0.0  # above the kernel's pid_max: never a group
