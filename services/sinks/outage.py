"""The outage retrier of a sink: a call to the target is retried until it succeeds or the sink stops.

The first failure declares an outage, logged once and dated from the failed request's start (a frozen cluster
fails a request only at its timeout); the runner pauses consumption while it lasts. Every writer waits with the
one backoff (services/common/backoff.py) on an event that a stop sets, and that the first success sets too, so
the other writers retry at once when the target answers again. A request that hangs is reported before its
timeout ends it (SlowRequests), but not again during an outage: its own lines say enough.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from services.common.backoff import Backoff
from services.sinks import metrics
from services.sinks.errors import TargetUnavailable
from services.sinks.visibility import SLOW_REQUEST_S, SlowRequests

log = logging.getLogger("services.sinks.runner")

T = TypeVar("T")


class Stopped(Exception):
    """The sink stopped while a call was still waiting for the target."""


class OutageRetrier:
    """Retries calls to one target (from several threads) and knows whether the target is down."""

    def __init__(self, target: str, backoff_base_s: float, backoff_max_s: float, request_timeout_s: float) -> None:
        self.target = target
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.since: float | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        # a quarter of the request timeout, at most SLOW_REQUEST_S: the wait shows well before the timeout ends it
        self.slow = SlowRequests(log, {"target": target}, min(SLOW_REQUEST_S, request_timeout_s / 4))

    @property
    def down(self) -> bool:
        return self.since is not None

    def stop(self) -> None:
        """End every wait now; calls still failing raise Stopped."""
        self._stop.set()
        self._wake.set()

    def retry(self, call: Callable[[], T], *, what: str, batch_size: int | None = None) -> T:
        """`call` until it succeeds or the sink stops; `what` names it in the log (a slow request, an outage)."""
        backoff = Backoff(self.backoff_base_s, self.backoff_max_s, self._wake)
        while True:
            started = time.perf_counter()
            watch = self.slow.track(what) if self.since is None else contextlib.nullcontext()
            try:
                with watch:
                    result = call()
            except TargetUnavailable as exc:
                self._declare(exc, what, time.perf_counter() - started)
            except Exception as exc:
                log.exception("target %s failed unexpectedly; retrying", self.target)
                self._declare(exc, what, time.perf_counter() - started)
            else:
                if batch_size is not None:
                    metrics.BULK_DURATION.labels(self.target).observe(time.perf_counter() - started)
                    metrics.BATCH_SIZE.labels(self.target).observe(batch_size)
                self._recovered()
                return result
            if self._stop.is_set():
                raise Stopped
            metrics.RETRIES.labels(self.target).inc()
            backoff.wait()

    def until(self, ready: Callable[[], bool]) -> None:
        """Call `ready` until it returns True (it logs its own failures), with the same backoff between calls;
        for set-up that is not a target write (no outage is declared)."""
        backoff = Backoff(self.backoff_base_s, self.backoff_max_s, self._wake)
        while not ready():
            if self._stop.is_set():
                raise Stopped
            backoff.wait()

    def _declare(self, exc: BaseException, what: str, waited_s: float) -> None:
        """The start of an outage, logged once."""
        with self._lock:
            if self.since is not None:
                return
            self.since = time.monotonic() - waited_s
            self._wake.clear()
        metrics.OUTAGE.labels(self.target).set(1)
        metrics.OUTAGES.labels(self.target).inc()
        log.warning(
            "target unavailable (%s, failed after %.1f s), pausing consumption and retrying until it answers: %s",
            what,
            waited_s,
            exc,
            extra={"target": self.target, "error_type": type(exc).__name__},
        )

    def _recovered(self) -> None:
        with self._lock:
            if self.since is None:
                return
            down_s = time.monotonic() - self.since
            self.since = None
            self._wake.set()
        metrics.OUTAGE.labels(self.target).set(0)
        log.warning("target available again after %.1f s, resuming", down_s, extra={"target": self.target})
