"""Errors that the CLI turns into one clear line and a fixed exit code."""

from __future__ import annotations

from pathlib import Path


class SpiderError(Exception):
    """An operator-facing error: its message is printed as is, without a traceback."""

    exit_code = 1


class ConfigError(SpiderError):
    """A setting or a configuration file is missing or malformed (exit code 2)."""

    exit_code = 2

    def __init__(self, problem: str, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path is not None else problem)
