"""Collector settings."""

from __future__ import annotations

from services.common.config import SpiderSettings


class CollectorConfig(SpiderSettings):
    section = "collector"
