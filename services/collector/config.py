"""Collector settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.common.config import SpiderSettings, load_collectors


class CollectorConfig(SpiderSettings):
    section = "collector"

    collectors_file: Path = Field(
        Path("etc/collectors.json"), description='Pools to poll: {"PoolName": ["collector:port", ...]}'
    )
    checkpoint_file: Path = Field(
        Path("checkpoint.json"),
        description="Reference-format per-schedd history checkpoints (migration source; `spider config show` reads it)",
    )

    collector_hosts: list[str] = Field(
        default_factory=list,
        description="Legacy collector host list (pool 'Unknown'), used when collectors_file does not exist",
    )
    schedd_include: list[str] = Field(default_factory=list, description="Only these schedd names (all if empty)")
    schedd_exclude: list[str] = Field(default_factory=list, description="Never these schedd names")

    queue_interval_s: float = Field(720.0, gt=0, description="Long-running mode: seconds between queue polls")
    history_interval_s: float = Field(720.0, gt=0, description="Long-running mode: seconds between history polls")
    queue_recent_s: int = Field(
        3660,
        ge=0,
        description="Queue poll also takes Removed/Completed jobs that changed this recently (reference: 61 min)",
    )
    history_overlap_s: int = Field(720, ge=0, description="Re-read this much before the checkpoint (one 12-min period)")
    history_lookback_min: int = Field(720, gt=0, description="Look-back of a schedd without checkpoint, minutes")
    history_max_age_s: int = Field(39 * 24 * 3600, gt=0, description="Never read history older than this (39 days)")
    crab_max_age_s: int = Field(12 * 3600, gt=0, description="Cap of the look-back of `crab*` schedds (12 h)")
    history_page_size: int = Field(
        20000, gt=0, description="Ads per history query; a larger backlog is split into smaller time windows"
    )

    max_workers: int = Field(8, gt=0, description="Schedds queried at the same time")
    schedd_timeout_s: float = Field(300.0, gt=0, description="Time allowed to one schedd for one poll")
    run_budget_s: float = Field(3600.0, gt=0, description="Time allowed to one --once run (reference: 60 min)")

    compression: str = Field("zstd", pattern="^(zstd|lz4)$", description="Compression of ad messages (zstd or lz4)")
    delivery_timeout_ms: int = Field(120_000, gt=0, description="librdkafka delivery.timeout.ms of ad messages")
    pushgateway_url: str | None = Field(
        None, description="--once: push the run's metrics to this Prometheus Pushgateway (job spider-collector)"
    )
    linger_ms: int = Field(50, ge=0, description="librdkafka linger.ms: wait this long to fill a batch")

    def collectors(self) -> dict[str, list[str]]:
        return load_collectors(self.resolve(self.collectors_file))
