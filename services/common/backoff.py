"""The one backoff of every retry loop: jittered exponential delays, waited on an event that a stop sets.

Retries of an unavailable target, of unacknowledged Kafka sends and of a table that cannot be read yet all wait
here. Equal jitter keeps restarted services from retrying in step; waiting on an event (the runner's stop or
wake-up event, set by SIGTERM) instead of sleeping lets a stop end the wait at once. One wait per failure: the
clients underneath (the STOMP sender, the search clients) do not back off on their own.
"""

from __future__ import annotations

import random
import threading


def delay(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with equal jitter: between half and all of min(cap, base * 2**attempt)."""
    ceiling = min(cap, base * (2 ** min(attempt, 32)))
    return random.uniform(ceiling / 2, ceiling)


class Backoff:
    """The delays of one retry loop: each `wait()` (or `next()`) is the next, longer delay, up to `cap`."""

    def __init__(self, base: float, cap: float, event: threading.Event | None = None) -> None:
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._event = event if event is not None else threading.Event()

    def next(self) -> float:
        """The next delay, for loops that wait on their own (asyncio)."""
        seconds = delay(self.attempt, self.base, self.cap)
        self.attempt += 1
        return seconds

    def wait(self) -> bool:
        """Wait the next delay; False if the event was set first (stop, or a reason to retry at once)."""
        return not self._event.wait(self.next())

    def reset(self) -> None:
        self.attempt = 0
