"""Garbage-collector settings for a worker that converts many small documents.

A converted message allocates thousands of short-lived containers, freed by reference counting; cycles are
rare. With CPython's default gen0 threshold (700) the collector runs every few messages and each full pass
walks every object alive since start-up (modules, the faust app, the field registry, caches). Freezing the
start-up heap takes those out of every pass, and a higher threshold makes the young passes rarer.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 50_000


def freeze_startup_heap(gen0_threshold: int = GEN0_THRESHOLD) -> None:
    """Call once, after start-up and before the message loop."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)
