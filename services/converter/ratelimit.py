"""Warnings about bad attribute values, at most one line per (kind, attribute) per interval.

A schedd full of ads with the same broken attribute must not flood the logs; the count of suppressed
repeats is reported with the next line. Only logging depends on this state, never the documents.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("services.converter")

INTERVAL_S = 60.0
_KEYS_MAX = 4096  # attribute names come from the ads: a flood of distinct odd names must not grow the table

_lock = threading.Lock()
_last: dict[tuple[str, str], tuple[float, int]] = {}


def warn(kind: str, attribute: str, message: str) -> None:
    key = (kind, attribute)
    now = time.monotonic()
    with _lock:
        last, suppressed = _last.get(key, (float("-inf"), 0))
        if now - last < INTERVAL_S:
            _last[key] = (last, suppressed + 1)
            return
        if len(_last) >= _KEYS_MAX:
            _last.clear()
        _last[key] = (now, 0)
    extra = f" ({suppressed} similar suppressed)" if suppressed else ""
    log.warning("%s%s", message, extra, extra={"attribute": attribute, "kind": kind})
