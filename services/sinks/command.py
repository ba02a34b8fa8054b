"""`spider sink KIND [--cluster NAME] [--init]`: run one sink runner per target of that kind until SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from services.common import logs, observability
from services.common.errors import SpiderError
from services.common.shutdown import Stopping
from services.sinks import amq, elasticsearch, opensearch
from services.sinks.config import SinkConfig, SinkKind
from services.sinks.errors import TargetUnavailable
from services.sinks.runner import Initializable, SinkRunner, Target

log = logging.getLogger(__name__)

TargetFactory = Callable[[SinkConfig, str | None], list[Target]]
"""(config, cluster or None for all of the kind) -> the targets to run."""

FACTORIES: dict[SinkKind, TargetFactory] = {
    "es": elasticsearch.targets,
    "opensearch": opensearch.targets,
    "amq": amq.targets,
}


def initialize(targets: list[Target]) -> None:
    """Install what the targets need (index templates) and stop; a failure is one clear line."""
    for target in targets:
        if isinstance(target, Initializable):
            try:
                target.initialize()
            except TargetUnavailable as exc:
                raise SpiderError(f"{target.name}: {exc}") from None
            log.info("initialized", extra={"target": target.name})
        target.close()


def run(kind: SinkKind, config: SinkConfig, cluster: str | None = None, init_only: bool = False) -> None:
    """Every configuration file is read (es_conf.json or the ActiveMQ credentials by the targets, the Kafka
    secret and TLS files by the check) before a runner starts, so a wrong one stops the sink at once."""
    logs.setup(f"sink-{kind}", config.log_level, config.log_format)
    targets = FACTORIES[kind](config, cluster)
    if init_only:
        initialize(targets)
        return
    config.kafka.check()
    runners = [SinkRunner(target, config) for target in targets]
    stopping = Stopping(config.stop_grace_s)

    def stop(signum: int, _frame: object) -> None:
        log.info("signal %s: finishing in-flight batches", signal.Signals(signum).name)
        stopping.begin()
        for runner in runners:
            runner.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def ready() -> bool | str:
        reasons = [r for r in (runner.ready() for runner in runners) if r is not True]
        return True if not reasons else "; ".join(str(r) for r in reasons)

    server = observability.serve(config.metrics_port, ready, service=f"sink-{kind}")
    failed: list[str] = []

    def run_one(runner: SinkRunner) -> None:
        try:
            runner.run()
        except Exception:
            log.exception("sink runner failed", extra={"target": runner.target.name})
            failed.append(runner.target.name)
            stop(signal.SIGTERM, None)

    threads = [threading.Thread(target=run_one, args=(r,), name=f"sink-{r.target.name}") for r in runners]
    for thread in threads:
        thread.start()
    try:
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(timeout=0.5)
    finally:
        if server is not None:
            server.close()
    if failed:
        raise SpiderError(f"sink failed: {', '.join(failed)} (see the log)")
