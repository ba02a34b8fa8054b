"""Bounded stops: once asked to stop (SIGTERM, SIGINT), a service exits within its grace period, whatever it waits for.

A clean stop waits for Kafka and the targets (acknowledgements, the last offset commit). The waits that can
block on a server that does not answer take their time from `Stopping.remaining()`, and a watchdog ends the
process when the grace period is over and something still blocks. Exiting early loses nothing: input whose
output was not acknowledged is not committed and is consumed again by the next run.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

from services.common.errors import ExitStatus

log = logging.getLogger(__name__)


class Stopping:
    """The stop of one process: when it began, how long is left, and the watchdog that enforces the end."""

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self._deadline: float | None = None
        self._lock = threading.Lock()

    def begin(self) -> None:
        """Start the countdown; later calls (a second signal) change nothing."""
        with self._lock:
            if self._deadline is not None:
                return
            self._deadline = time.monotonic() + self.grace_s
        watchdog = threading.Timer(self.grace_s, self._expire)
        watchdog.name = "stop-watchdog"
        watchdog.daemon = True
        watchdog.start()

    @property
    def started(self) -> bool:
        return self._deadline is not None

    def remaining(self, default: float) -> float:
        """Seconds left of the grace period (at least 0), or `default` when no stop has begun."""
        if self._deadline is None:
            return default
        return max(0.0, self._deadline - time.monotonic())

    def _expire(self) -> None:
        log.error(
            "still stopping %.0f s after the stop signal: exiting now; what was not acknowledged is consumed again",
            self.grace_s,
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stderr.flush()
        os._exit(ExitStatus.FAILURE)
