"""Converter settings."""

from __future__ import annotations

from services.common.config import SpiderSettings


class ConverterConfig(SpiderSettings):
    section = "converter"
