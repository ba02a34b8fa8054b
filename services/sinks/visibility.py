"""What a sink logs about trouble, few lines however much there is: rejected documents as a summary per minute,
requests that hang (a frozen cluster answers nothing until the request timeout). The full reason of each
rejection is in its dead-letter record, not in the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

SUMMARY_WINDOW_S = 60.0
SLOW_REQUEST_S = 30.0
SAMPLE_CHARS = 500
_KEY_CHARS = 100


def reason_key(reason: str) -> str:
    """The class of a rejection reason for counting: its text before the first colon ("HTTP 400
    document_parsing_exception", "undecodable document message")."""
    return reason.split(":", 1)[0][:_KEY_CHARS]


class RejectionSummary:
    """Counts rejections by reason class; logs the first of each window in full as a sample (truncated to
    SAMPLE_CHARS), then one summary line when the window is over. Called from one thread."""

    def __init__(
        self,
        log: logging.Logger,
        extra: Mapping[str, Any],
        window_s: float = SUMMARY_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.extra = dict(extra)
        self.window_s = window_s
        self.clock = clock
        self.counts: Counter[str] = Counter()
        self.window_start = 0.0

    def add(self, reason: str, where: Mapping[str, Any]) -> None:
        if not self.counts:
            self.window_start = self.clock()
            self.log.warning(
                "document dead-lettered: %s%s (further ones in the next %.0f s are counted, not logged)",
                reason[:SAMPLE_CHARS],
                " [...]" if len(reason) > SAMPLE_CHARS else "",
                self.window_s,
                extra={**self.extra, **where},
            )
        self.counts[reason_key(reason)] += 1

    def tick(self, force: bool = False) -> None:
        """Log the summary of a finished window (`force`: whatever was counted, at shutdown)."""
        if not self.counts or (not force and self.clock() - self.window_start < self.window_s):
            return
        total = sum(self.counts.values())
        self.log.warning(
            "%d documents dead-lettered in the last %.0f s, by reason: %s",
            total,
            self.clock() - self.window_start,
            dict(self.counts.most_common()),
            extra={**self.extra, "rejections": total},
        )
        self.counts.clear()


@dataclass(eq=False, slots=True)
class _Wait:
    what: str
    started: float
    reported: bool = False


class SlowRequests:
    """Logs a request to the target once it has been waiting `threshold_s`, and when it ends after that:
    without it, a frozen cluster shows nothing until the request timeout (120 s by default)."""

    def __init__(self, log: logging.Logger, extra: Mapping[str, Any], threshold_s: float = SLOW_REQUEST_S) -> None:
        self.log = log
        self.extra = dict(extra)
        self.threshold_s = threshold_s
        self._waiting: set[_Wait] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def track(self, what: str) -> Iterator[None]:
        """Around one request (`what` names it in the log lines)."""
        wait = _Wait(what, time.monotonic())
        with self._lock:
            self._waiting.add(wait)
        try:
            yield
        finally:
            with self._lock:
                self._waiting.discard(wait)
                reported = wait.reported
            if reported:
                waited = time.monotonic() - wait.started
                self.log.warning("%s: the request ended after %.0f s", what, waited, extra=self.extra)

    def check(self) -> None:
        """Report every request waiting longer than the threshold and not reported yet."""
        now = time.monotonic()
        with self._lock:
            late = [wait for wait in self._waiting if not wait.reported and now - wait.started >= self.threshold_s]
            for wait in late:
                wait.reported = True
        for wait in late:
            waited = now - wait.started
            self.log.warning(
                "%s: no answer from the target for %.0f s, still waiting", wait.what, waited, extra=self.extra
            )

    def start(self) -> None:
        def watch() -> None:
            while not self._stop.wait(1.0):
                self.check()

        self._thread = threading.Thread(target=watch, name="sink-slow-requests", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
