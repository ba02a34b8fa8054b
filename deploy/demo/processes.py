"""The demo's pipeline processes: each one a `spider ...` child, exactly as it would run in production.

Children get a clean environment (no inherited SPIDER_* except the stack's) plus SPIDER_CONFIG and
SPIDER_WORKDIR pointing at the demo workdir, their own metrics port, JSON logs in `<workdir>/logs/`.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from deploy.demo.workdir import CONFIG_FILE
from deploy.local.stack import tail
from services.common.errors import SpiderError


def spider_executable() -> str:
    """The `spider` script of this installation (next to the interpreter), else the one on PATH."""
    beside = Path(sys.executable).with_name("spider")
    if beside.exists():
        return str(beside)
    found = shutil.which("spider")
    if found is None:
        raise SpiderError("cannot find the `spider` command; install the package with pip install -e .")
    return found


PORTS_FROM = 10_000  # above the well-known and most registered server ports


def free_port(count: int = 1) -> int:
    """The first of `count` consecutive ports nothing listens on, below the kernel's ephemeral range: a port
    handed out now but bound later, or bound again by a restarted server, must not meanwhile become the local
    end of some client's outgoing connection (which a port from bind(0) can)."""
    low = _ephemeral_low()
    for _ in range(500):
        first = random.randrange(PORTS_FROM, low - count)
        if all(_bindable(first + i) for i in range(count)):
            return first
    raise SpiderError(f"no {count} consecutive free ports between {PORTS_FROM} and {low}")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Child:
    name: str
    args: list[str]
    log: Path
    metrics_port: int | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def exit_code(self) -> int | None:
        return self.popen.poll() if self.popen else None

    def log_tail(self, lines: int = 12) -> str:
        return tail(self.log, lines)

    def last_problem(self) -> str | None:
        """The message of the last warning or error in the child's JSON log (why a stage is stuck)."""
        for line in reversed(tail(self.log, 200).splitlines()):
            if '"level":"warning"' in line or '"level":"error"' in line:
                with contextlib.suppress(ValueError):
                    return str(json.loads(line[line.index("{") :]).get("msg", ""))[:300]
        return None


def child_env(workdir: Path, metrics_port: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPIDER_") or k.startswith("SPIDER_STACK_")}
    env |= {
        "SPIDER_CONFIG": str(workdir / CONFIG_FILE),
        "SPIDER_WORKDIR": str(workdir),
        "SPIDER_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }
    if metrics_port is not None:
        env["SPIDER_METRICS_PORT"] = str(metrics_port)
    return env


def start(child: Child, workdir: Path) -> Child:
    child.log.parent.mkdir(parents=True, exist_ok=True)
    with child.log.open("ab") as log:
        child.popen = subprocess.Popen(
            [spider_executable(), *child.args],
            cwd=workdir,
            env=child_env(workdir, child.metrics_port),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal reaches the demo only; it stops the children itself
        )
    return child


def stop(children: list[Child], grace_s: float = 30.0) -> dict[str, str]:
    """SIGTERM every running child, wait for them to finish their in-flight work, SIGKILL stragglers.

    Returns how each one ended: "exit N" or "killed after Ns"."""
    running = [c for c in children if c.popen is not None and c.popen.poll() is None]
    for child in running:
        child.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    ended: dict[str, str] = {}
    for child in children:
        if child.popen is None:
            continue
        try:
            code = child.popen.wait(timeout=max(deadline - time.monotonic(), 0.1))
            ended[child.name] = f"exit {code}"
        except subprocess.TimeoutExpired:
            child.popen.kill()
            child.popen.wait()
            ended[child.name] = f"killed after {grace_s:.0f}s"
    return ended
