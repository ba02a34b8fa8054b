"""Group consumed documents into batches bounded by count, bytes and time since the first one (linger)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Batch(Generic[T]):
    items: list[T] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    started: float = 0.0

    @property
    def size_bytes(self) -> int:
        return sum(self.sizes)


class Batcher(Generic[T]):
    """Collects items; `add` and `due` hand back batches once full or lingered long enough."""

    def __init__(
        self, max_count: int, max_bytes: int, linger_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_count < 1 or max_bytes < 1:
            raise ValueError("batch limits must be positive")
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.linger_s = linger_s
        self._clock = clock
        self._batch: Batch[T] = Batch()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._batch.items)

    def add(self, item: T, size: int) -> list[Batch[T]]:
        """Add one item; returns the batches it completed. An item alone over max_bytes still travels."""
        full: list[Batch[T]] = []
        if self._batch.items and self._bytes + size > self.max_bytes:
            full.append(self._take())
        if not self._batch.items:
            self._batch.started = self._clock()
        self._batch.items.append(item)
        self._batch.sizes.append(size)
        self._bytes += size
        if len(self._batch.items) >= self.max_count or self._bytes >= self.max_bytes:
            full.append(self._take())
        return full

    def due(self) -> Batch[T] | None:
        """The pending batch if it has waited `linger_s` since its first item."""
        if self._batch.items and self._clock() - self._batch.started >= self.linger_s:
            return self._take()
        return None

    def flush(self) -> Batch[T] | None:
        """The pending batch now, or None if empty."""
        return self._take() if self._batch.items else None

    def drop(self, keep: Callable[[T], bool]) -> None:
        """Forget pending items that fail `keep` (partitions revoked by a rebalance)."""
        pairs = [(i, s) for i, s in zip(self._batch.items, self._batch.sizes, strict=True) if keep(i)]
        self._batch = Batch([i for i, _ in pairs], [s for _, s in pairs], self._batch.started)
        self._bytes = self._batch.size_bytes

    def _take(self) -> Batch[T]:
        batch, self._batch, self._bytes = self._batch, Batch(), 0
        return batch
