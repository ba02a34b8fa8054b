"""Start and stop server processes by pid file, touching nothing the stack did not start.

A pid file holds the pid and the kernel start time of the process, so a recycled pid is never mistaken for
our server. Each server runs in its own session: stopping signals the whole process group (Elasticsearch's
launcher and its server JVM) and waits until no member of the group is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name, or None if the process is gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return None if fields[0] in ("Z", "X") else fields


def start_time(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def cpu_seconds(pgid: int) -> float:
    """User + system CPU time so far of a process group's live members, all threads (benchmarks read the search
    servers' indexing cost from it)."""
    ticks = 0
    for pid in group_members(pgid):
        fields = _stat(pid)
        if fields:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def group_members(pgid: int) -> list[int]:
    """Live processes (not zombies) of a process group."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


def spawn(cmd: list[str], *, cwd: Path, env: dict[str, str], log: Path, pid_file: Path, user: str | None = None) -> int:
    """Start a server detached from the caller (own session) with stdout and stderr appended to `log`."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, user=user, group=user and _group_of(user), extra_groups=[] if user else None,
        )  # fmt: skip
    pid_file.write_text(f"{proc.pid} {start_time(proc.pid) or 0}\n")
    return proc.pid


def _group_of(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


def running_pid(pid_file: Path) -> int | None:
    """The pid recorded in `pid_file` if that very process still runs."""
    try:
        pid_text, started = pid_file.read_text().split()
    except (FileNotFoundError, ValueError):
        return None
    pid = int(pid_text)
    return pid if start_time(pid) == int(started) else None


def exited_early(pid: int) -> bool:
    """True when a process we spawned has already died; reaps it if it is our child."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return start_time(pid) is None


def stop(pid_file: Path, timeout: float = 60.0) -> bool:
    """SIGTERM the server's process group, SIGKILL what is left after `timeout`; False if it was not running."""
    pid = running_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while group_members(pid) and time.monotonic() < deadline:
        exited_early(pid)
        time.sleep(0.2)
    for member in group_members(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)
    while group_members(pid):
        exited_early(pid)
        time.sleep(0.1)
    exited_early(pid)
    pid_file.unlink(missing_ok=True)
    return True
