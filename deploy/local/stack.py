"""`spider stack up|down|status|logs`: the local stack as one unit.

`up` prepares and starts the selected servers in parallel and waits until each is healthy; a server already
running from this state dir is left alone, and a healthy server of the same kind already listening on the
port (another checkout's stack) is reused without being managed. `down` stops only what this state dir's pid
files name. The config `up` used is recorded in `<state dir>/stack.json`, so `status`, `down` and `logs`
look at the same ports.
"""

from __future__ import annotations

import json
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from deploy.local import health, process, tls
from deploy.local.config import StackConfig
from deploy.local.servers import Server, all_servers
from services.common.errors import SpiderError

RECORD = "stack.json"


class StackError(SpiderError):
    """A server could not be brought up or a port is taken by something else."""


@dataclass
class Outcome:
    name: str
    state: str  # started | running | reused | stopped | down | failed
    listens: str
    seconds: float = 0.0
    detail: str = ""


def select(cfg: StackConfig, only: list[str] | None) -> list[Server]:
    """The servers named in `only` (all if None); `kafka` names every node of a replicated Kafka."""
    servers = all_servers(cfg)
    names = [m for n in only for m in (cfg.brokers if n == "kafka" else (n,))] if only else list(cfg.servers)
    unknown = [n for n in names if n not in servers]
    if unknown:
        raise StackError(f"unknown server {unknown[0]!r}; choose from {', '.join(cfg.servers)}")
    return [servers[n] for n in names]


def recorded(cfg: StackConfig) -> tuple[StackConfig, list[str]]:
    """The config and the servers of the last `up` in this state dir; `cfg` and all servers if none."""
    path = cfg.state_dir / RECORD
    if not path.exists():
        return cfg, list(cfg.servers)
    saved = json.loads(path.read_text())
    return StackConfig(**(saved["config"] | {"dir": str(cfg.dir.absolute()), "secure": cfg.secure})), saved["servers"]


def up(cfg: StackConfig, only: list[str] | None = None) -> list[Outcome]:
    servers = select(cfg, only)
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    names = [s.name for s in servers]
    if (cfg.state_dir / RECORD).exists():
        names += [n for n in recorded(cfg)[1] if n not in names and process.running_pid(cfg.state_dir / n / "pid")]
    record = {"config": cfg.model_dump(mode="json"), "servers": [n for n in cfg.servers if n in names]}
    (cfg.state_dir / RECORD).write_text(json.dumps(record, indent=2))
    if cfg.secure:
        tls.Material(cfg.state_dir).ensure([cfg.host, "localhost"])
    with ThreadPoolExecutor(len(servers)) as pool:
        return list(pool.map(_bring_up, servers))


def raise_failures(outcomes: list[Outcome]) -> None:
    failed = [o for o in outcomes if o.state == "failed"]
    if failed:
        raise StackError("; ".join(f"{o.name}: {o.detail}" for o in failed))


def _bring_up(server: Server) -> Outcome:
    began = time.monotonic()
    try:
        state = _start_or_reuse(server)
        detail = _wait_healthy(server)
    except SpiderError as exc:
        return Outcome(server.name, "failed", server.listens(), time.monotonic() - began, str(exc))
    return Outcome(server.name, state, server.listens(), time.monotonic() - began, detail)


def _start_or_reuse(server: Server) -> str:
    if process.running_pid(server.pid_file):
        return "running"
    taken = [p for p in server.ports() if health.port_open(server.cfg.host, p)]
    if taken:
        healthy, detail = server.probe()
        if healthy:
            return "reused"
        raise StackError(f"port {taken[0]} is in use by another program ({detail}); free it or set other ports")
    server.prepare()
    process.spawn(server.command(), cwd=server.dir, env=server.env(), log=server.log, pid_file=server.pid_file,
                  user=server.user)  # fmt: skip
    return "started"


def _wait_healthy(server: Server) -> str:
    deadline = time.monotonic() + server.cfg.start_timeout
    pid = process.running_pid(server.pid_file)
    detail = "not answering yet"
    while time.monotonic() < deadline:
        if pid is not None and process.exited_early(pid):
            raise StackError(f"exited during start-up; last log lines:\n{tail(server.log, 15)}")
        if health.port_open(server.cfg.host, server.ports()[0]):
            healthy, detail = server.probe()
            if healthy:
                return detail
        time.sleep(0.25)
    raise StackError(f"not healthy after {server.cfg.start_timeout:.0f}s ({detail}); see {server.log}")


def fetch(cfg: StackConfig) -> list[Outcome]:
    """Resolve and verify every server's binaries without starting anything (CI pre-fetch)."""
    outcomes = []
    for server in select(cfg, None):
        began = time.monotonic()
        server.prepare_binaries()
        outcomes.append(Outcome(server.name, "fetched", str(cfg.cache_dir), time.monotonic() - began))
    return outcomes


def down(cfg: StackConfig) -> list[Outcome]:
    servers = select(recorded(cfg)[0], None)

    def stop(server: Server) -> Outcome:
        began = time.monotonic()
        stopped = process.stop(server.pid_file)
        return Outcome(server.name, "stopped" if stopped else "down", server.listens(), time.monotonic() - began)

    with ThreadPoolExecutor(len(servers)) as pool:
        return list(pool.map(stop, servers))


def status(cfg: StackConfig) -> list[Outcome]:
    def check(server: Server) -> Outcome:
        managed = process.running_pid(server.pid_file) is not None
        if not health.port_open(server.cfg.host, server.ports()[0]):
            return Outcome(server.name, "starting" if managed else "down", server.listens())
        healthy, detail = server.probe()
        state = ("running" if managed else "external") if healthy else "unhealthy"
        return Outcome(server.name, state, server.listens(), detail=detail)

    servers = select(*recorded(cfg))
    with ThreadPoolExecutor(len(servers)) as pool:
        return list(pool.map(check, servers))


def tail(path: Path, lines: int) -> str:
    if not path.exists():
        return f"(no log at {path})"
    with path.open(errors="replace") as fh:
        return "".join(deque(fh, maxlen=lines)).rstrip()


def logs(cfg: StackConfig, name: str | None, lines: int) -> str:
    saved, names = recorded(cfg)
    servers = select(saved, [name] if name else names)
    return "\n".join(f"==> {s.name}: {s.log} <==\n{tail(s.log, lines)}" for s in servers)
