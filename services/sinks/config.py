"""Sink settings (Elasticsearch, OpenSearch, ActiveMQ)."""

from __future__ import annotations

from services.common.config import SpiderSettings


class SinkConfig(SpiderSettings):
    section = "sinks"
