"""`spider stack up|status|down`, twice in a row, leaves no process behind.

Runs its own Kafka and ActiveMQ in a temporary state dir on free ports, so the shared default stack that
other tests and people use is never touched.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from deploy.demo.processes import free_port
from deploy.local import process

pytestmark = pytest.mark.integration


def _spider(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["spider", "stack", *args], env=env, capture_output=True, text=True, timeout=300)


def _processes_using(state_dir: Path) -> list[int]:
    """Every live process whose command line mentions the state dir."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and process.start_time(int(entry.name)):
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if str(state_dir) in cmdline:
                pids.append(int(entry.name))
    return pids


def test_up_status_down_twice_leaves_no_process(tmp_path):
    state_dir = tmp_path / "stack"
    ports = {"KAFKA": free_port(), "KAFKA_CONTROLLER": free_port(), "STOMP": free_port()}
    env = os.environ | {"SPIDER_STACK_DIR": str(state_dir), "SPIDER_STACK_PORT_OFFSET": "0"}
    env |= {f"SPIDER_STACK_{name}_PORT": str(port) for name, port in ports.items()}

    for _round in range(2):
        started = _spider(env, "up", "--only", "kafka,activemq")
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"127.0.0.1:{ports['KAFKA']}" in started.stdout
        assert f"stomp://127.0.0.1:{ports['STOMP']}" in started.stdout

        again = _spider(env, "up", "--only", "kafka,activemq")
        assert again.returncode == 0
        assert "started" not in again.stdout

        status = _spider(env, "status")
        assert status.returncode == 0, status.stdout
        assert [line.split()[:2] for line in status.stdout.splitlines()[:2]] == [
            ["kafka", "running"],
            ["activemq", "running"],
        ]

        stopped = _spider(env, "down")
        assert stopped.returncode == 0, stopped.stderr
        assert _processes_using(state_dir) == []
        assert not any(process.running_pid(state_dir / name / "pid") for name in ("kafka", "activemq"))

        after = _spider(env, "status")
        assert after.returncode == 1
