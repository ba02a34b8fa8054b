"""Contiguous offset tracking: the offset to commit is the lowest one not yet acknowledged.

Batches finish out of order (several are in flight, a retried one finishes late), so a partition's committed
offset may only move past offsets whose documents were all acknowledged; otherwise a crash would lose the
unacknowledged ones. A replay after a crash re-sends at most what was in flight, which `_id` makes harmless.
"""

from __future__ import annotations

from collections import deque


class PartitionOffsets:
    """Offsets handed out for one partition, in consumption order, and which of them are acknowledged."""

    __slots__ = ("_acked", "_last_seen", "_pending", "committed")

    def __init__(self, committed: int | None = None) -> None:
        self._pending: deque[int] = deque()
        self._acked: set[int] = set()
        self._last_seen: int | None = None
        self.committed = committed

    def add(self, offset: int) -> bool:
        """Record a consumed offset. False for an offset at or below one already recorded (a re-delivery after
        pause/resume): it is already being handled, and the caller should skip it."""
        if self._last_seen is not None and offset <= self._last_seen:
            return False
        self._last_seen = offset
        self._pending.append(offset)
        return True

    def ack(self, offset: int) -> None:
        """Mark an offset done (written, or dead-lettered); unknown offsets are ignored."""
        if self._pending and self._pending[0] <= offset <= self._pending[-1]:
            self._acked.add(offset)
            while self._pending and self._pending[0] in self._acked:
                self._acked.discard(self._pending.popleft())

    @property
    def in_flight(self) -> int:
        return len(self._pending) - len(self._acked)

    def committable(self) -> int | None:
        """The Kafka commit offset (next offset to read) covering every acknowledged prefix, if it moved."""
        if self._last_seen is None:
            return None
        position = self._pending[0] if self._pending else self._last_seen + 1
        if self.committed is not None and position <= self.committed:
            return None
        return position

    def mark_committed(self, offset: int) -> None:
        self.committed = offset if self.committed is None else max(self.committed, offset)
