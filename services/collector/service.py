"""The collector process: a cron-style single run, or a long-running loop with separate queue/history clocks."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from services.collector.checkpoints import CheckpointStore
from services.collector.config import CollectorConfig
from services.collector.discovery import LEGACY_POOL, discover
from services.collector.poller import HISTORY, QUEUE, Poller, PollResult
from services.collector.pool import FilePool, HTCondorPool, Pool
from services.common.kafka import Publisher

log = logging.getLogger(__name__)


def pools_of(config: CollectorConfig) -> dict[str, list[str]]:
    """collectors.json when it exists; otherwise the legacy `--collectors` list as one pool."""
    path = config.resolve(config.collectors_file)
    if path.exists() or not config.collector_hosts:
        return config.collectors()
    return {LEGACY_POOL: list(config.collector_hosts)}


def make_publisher(config: CollectorConfig) -> Publisher:
    return Publisher(
        config.kafka,
        compression=config.compression,
        delivery_timeout_ms=config.delivery_timeout_ms,
        linger_ms=config.linger_ms,
    )


class Collector:
    def __init__(self, config: CollectorConfig, pool: Pool, publisher: Publisher) -> None:
        self.config = config
        self.pool = pool
        self.poller = Poller(config, pool, publisher, CheckpointStore(config.kafka))

    def cycle(self, source: str, budget_s: float) -> list[PollResult]:
        deadline = time.monotonic() + budget_s
        schedds = discover(self.pool, pools_of(self.config), self.config.schedd_include, self.config.schedd_exclude)
        return self.poller.run_cycle(source, schedds, deadline)

    def run_once(self, sources: tuple[str, ...] = (QUEUE, HISTORY)) -> list[PollResult]:
        """Queue and history cycles side by side, sharing the run's time budget."""
        results: dict[str, list[PollResult]] = {}
        errors: list[Exception] = []

        def run(source: str) -> None:
            try:
                results[source] = self.cycle(source, self.config.run_budget_s)
            except Exception as exc:  # re-raised below, in the caller's thread
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(s,), name=f"cycle-{s}") for s in sources]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return [r for s in sources for r in results.get(s, [])]

    def run_forever(self, stop: threading.Event) -> None:
        """Each source on its own interval; a cycle may use its whole interval but never overlaps the next."""

        def loop(source: str, interval: float) -> None:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    self.cycle(source, min(interval, self.config.run_budget_s))
                except Exception:
                    log.exception("%s cycle failed; next one in %.0f s", source, interval, extra={"source": source})
                stop.wait(max(0.0, interval - (time.monotonic() - started)))

        threads = [
            threading.Thread(target=loop, args=(QUEUE, self.config.queue_interval_s), name="queue-loop"),
            threading.Thread(target=loop, args=(HISTORY, self.config.history_interval_s), name="history-loop"),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def pool_for(config: CollectorConfig, root: Path | None) -> Pool:
    """A file-backed pool when a directory is given (tests, demo), else the real HTCondor pools."""
    return FilePool(root) if root is not None else HTCondorPool(timeout_s=config.schedd_timeout_s)
