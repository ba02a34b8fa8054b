"""Exit statuses of every `spider` command, and the errors that the CLI turns into one clear line and a status.

docs/runbook.md "Exit codes" is the operators' copy of `ExitStatus`; tests/unit/test_cli_conventions.py holds
the commands to it.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path


class ExitStatus(IntEnum):
    """What a script or a supervisor learns from a command's exit status. Each cause has its own status, so a
    cron wrapper can page for a broken configuration (nothing will work until someone fixes it) but not for a
    partial run (the next run catches up)."""

    OK = 0
    FAILURE = 1  # a runtime failure: a server unreachable or refusing, a send not confirmed, a check not passed
    USAGE = 2  # click's usage error: unknown command or option, an option value that cannot be read
    CONFIG = 3  # a setting or a configuration file missing or malformed; reported before any connection
    PARTIAL = 4  # the run finished but left some input out (failed schedd polls, skipped ads): the rest is done
    REFUSED = 5  # refused because of the state found (a replay while the group has members): nothing changed


class SpiderError(Exception):
    """An operator-facing error: its message is printed as is, without a traceback."""

    exit_code: int = ExitStatus.FAILURE


class ConfigError(SpiderError):
    """A setting or a configuration file is missing or malformed."""

    exit_code = ExitStatus.CONFIG

    def __init__(self, problem: str, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path is not None else problem)
