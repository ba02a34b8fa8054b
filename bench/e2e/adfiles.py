"""The benchmark's input: N realistic ads split as a pool would deliver them, written once and cached.

Finished jobs (completed, removed) go to a history file, the others to a queue file, so both converter paths
and both document topics carry load in the proportions bench/ads.py generates (about 45% history).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.ads import history_text, iter_ads

FINISHED = (3, 4)  # JobStatus removed, completed
CHUNK = 5000  # ads rendered at a time, so memory stays flat for any N


@dataclass(frozen=True)
class AdFiles:
    queue: Path
    history: Path
    queue_ads: int
    history_ads: int
    job_ids: list[str]  # every GlobalJobId, in file order (queue file first); the latency samples come from here

    @property
    def total(self) -> int:
        return self.queue_ads + self.history_ads


def write(directory: Path, n: int, seed: int = 0) -> AdFiles:
    """Write (or reuse) `queue.ads` and `history.ads` for n ads of this seed under `directory`."""
    base = directory / f"ads-{n}-{seed}"
    base.mkdir(parents=True, exist_ok=True)
    queue, history, ids = base / "queue.ads", base / "history.ads", base / "ids.txt"
    if not ids.exists():
        counts, queue_ids, history_ids = _render(n, seed, queue, history)
        ids.with_suffix(".tmp").write_text(f"{counts[0]}\n" + "\n".join(queue_ids + history_ids) + "\n")
        ids.with_suffix(".tmp").rename(ids)
    first, *job_ids = ids.read_text().split("\n")[:-1]
    return AdFiles(queue, history, int(first), len(job_ids) - int(first), job_ids)


def _render(n: int, seed: int, queue: Path, history: Path) -> tuple[tuple[int, int], list[str], list[str]]:
    queue_ids: list[str] = []
    history_ids: list[str] = []
    with queue.open("w") as q, history.open("w") as h:
        batch: list = []
        for ad in iter_ads(n, seed=seed):
            batch.append(ad)
            if len(batch) == CHUNK:
                _flush(batch, q, h, queue_ids, history_ids)
                batch = []
        _flush(batch, q, h, queue_ids, history_ids)
    return (len(queue_ids), len(history_ids)), queue_ids, history_ids


def _flush(batch: list, q, h, queue_ids: list[str], history_ids: list[str]) -> None:
    finished = [ad for ad in batch if ad["JobStatus"] in FINISHED]
    running = [ad for ad in batch if ad["JobStatus"] not in FINISHED]
    h.write(history_text(finished))
    q.write(history_text(running))
    history_ids.extend(ad["GlobalJobId"] for ad in finished)
    queue_ids.extend(ad["GlobalJobId"] for ad in running)
