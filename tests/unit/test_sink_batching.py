"""Batches close on count, on bytes, or once the first document has lingered long enough."""

from services.sinks.batching import Batcher


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_batch_closes_at_the_document_count():
    batcher = Batcher(max_count=3, max_bytes=10_000, linger_s=5)
    assert batcher.add("a", 10) == []
    assert batcher.add("b", 10) == []
    [batch] = batcher.add("c", 10)
    assert batch.items == ["a", "b", "c"]
    assert len(batcher) == 0


def test_a_document_that_would_overflow_the_bytes_starts_the_next_batch():
    batcher = Batcher(max_count=100, max_bytes=1000, linger_s=5)
    batcher.add("a", 600)
    [batch] = batcher.add("b", 600)
    assert batch.items == ["a"]
    assert batcher.flush().items == ["b"]


def test_a_document_larger_than_the_byte_limit_travels_alone():
    batcher = Batcher(max_count=100, max_bytes=1000, linger_s=5)
    batcher.add("small", 10)
    first, second = batcher.add("huge", 5000)
    assert first.items == ["small"]
    assert second.items == ["huge"]


def test_a_partial_batch_is_due_after_the_linger_time():
    clock = Clock()
    batcher = Batcher(max_count=100, max_bytes=10_000, linger_s=0.5, clock=clock)
    batcher.add("a", 10)
    clock.now += 0.4
    assert batcher.due() is None
    clock.now += 0.1
    assert batcher.due().items == ["a"]
    assert batcher.due() is None


def test_dropping_revoked_items_keeps_the_others_and_their_bytes():
    batcher = Batcher(max_count=100, max_bytes=2000, linger_s=5)
    for name in ("p0-a", "p1-a", "p0-b"):
        batcher.add(name, 400)
    batcher.drop(lambda item: not item.startswith("p1"))
    assert batcher.add("p0-c", 1100) == []  # 800 + 1100 still fits: the dropped item's bytes were released
    batch = batcher.flush()
    assert batch.items == ["p0-a", "p0-b", "p0-c"]
    assert batch.size_bytes == 1900
