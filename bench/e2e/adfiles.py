"""The benchmark's input: N realistic ads split as a pool would deliver them, written once and cached.

Finished jobs (completed, removed) go to a history file, the others to a queue file, so both converter paths
and both document topics carry load in the proportions bench/ads.py generates (about 45% history).

Two formats of the same ads, each read by `spider collector --from-file`:
- `ndjson` (default): raw-message envelopes, one a line, as the collector builds them from the ClassAd objects
  a schedd returns (raw_message.encode). The file source forwards them unchanged, so the collector's cost is
  reading and publishing, close to production's (which gets ClassAd objects, not text, from the schedd).
- `classad`: old-syntax ClassAd text (schedd history files); the collector parses every ad with classad2 first,
  a cost production does not have.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import classad2

from bench.ads import BASE_TIME, history_text, iter_ads
from services.common import raw_message

FINISHED = (3, 4)  # JobStatus removed, completed
CHUNK = 5000  # ads rendered at a time, so memory stays flat for any N
POOL = "Global"
FORMATS = {"ndjson": "ndjson", "classad": "ads"}  # input format -> file suffix


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


def write(directory: Path, n: int, seed: int = 0, fmt: str = "ndjson") -> AdFiles:
    """Write (or reuse) `queue.<suffix>` and `history.<suffix>` for n ads of this seed under `directory`.

    A file gets its name only when complete; `ids.txt` (the same for every format) is written last."""
    base = directory / f"ads-{n}-{seed}"
    base.mkdir(parents=True, exist_ok=True)
    suffix = FORMATS[fmt]
    queue, history, ids = base / f"queue.{suffix}", base / f"history.{suffix}", base / "ids.txt"
    if not (ids.exists() and queue.exists() and history.exists()):
        partial = (base / f"queue.{suffix}.tmp", base / f"history.{suffix}.tmp")
        counts, queue_ids, history_ids = _render(n, seed, fmt, *partial)
        partial[0].rename(queue)
        partial[1].rename(history)
        ids.with_suffix(".tmp").write_text(f"{counts[0]}\n" + "\n".join(queue_ids + history_ids) + "\n")
        ids.with_suffix(".tmp").rename(ids)
    first, *job_ids = ids.read_text().split("\n")[:-1]
    return AdFiles(queue, history, int(first), len(job_ids) - int(first), job_ids)


@dataclass(frozen=True)
class _Envelope:
    """What the schedd poller puts around an ad. Collected at BASE_TIME, the generated ads' "now": the same file
    every time, and running jobs' durations as generated. The queue ads form one snapshot."""

    snapshot_id: str
    identity: dict[str, str]

    def line(self, ad: classad2.ClassAd, finished: bool) -> str:
        _key, value = raw_message.encode(
            ad,
            source="condor_history" if finished else "condor_queue",
            pool=POOL,
            schedd=ad["GlobalJobId"].split("#")[0],
            collected_at=BASE_TIME,
            snapshot_id=None if finished else self.snapshot_id,
            snapshot_time=None if finished else BASE_TIME,
            identity=self.identity,
        )
        return value.decode() + "\n"


def _render(n: int, seed: int, fmt: str, queue: Path, history: Path) -> tuple[tuple[int, int], list[str], list[str]]:
    envelope = _Envelope(hashlib.sha1(f"e2e-{n}-{seed}".encode()).hexdigest()[:32], raw_message.collector_identity())

    def text(ads: list[classad2.ClassAd], finished: bool) -> str:
        if fmt == "classad":
            return history_text(ads)
        return "".join(envelope.line(ad, finished) for ad in ads)

    queue_ids: list[str] = []
    history_ids: list[str] = []
    with queue.open("w") as q, history.open("w") as h:
        batch: list = []
        for i, ad in enumerate(iter_ads(n, seed=seed), start=1):
            batch.append(ad)
            if len(batch) == CHUNK or i == n:
                finished = [ad for ad in batch if ad["JobStatus"] in FINISHED]
                running = [ad for ad in batch if ad["JobStatus"] not in FINISHED]
                h.write(text(finished, True))
                q.write(text(running, False))
                history_ids.extend(ad["GlobalJobId"] for ad in finished)
                queue_ids.extend(ad["GlobalJobId"] for ad in running)
                batch = []
    return (len(queue_ids), len(history_ids)), queue_ids, history_ids
