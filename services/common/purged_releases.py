"""Releases whose documents were purged, kept in a compacted topic so that no replay can bring them back.

`spider purge --yes` deletes a bad release's documents from the indices, but the documents stay in the
document topics for their retention: a sink replayed from an older offset would index them again, and a bad
release that also changed the document ids would leave them there for good. So the purge records the git
hash here first, and every sink skips a document whose `git_hash` header is recorded (the sinks read the
table at start and follow it while they run).

Rows (key -> JSON value):
- `<git hash>` -> {git_hash, purged_at, by}: a purged release; a tombstone releases it again.
- `skipped:<git hash>:<target>:<instance>` -> {count}: how many documents of that release one sink process
  has skipped since it started, for `spider status` (instances add up; rows of a released hash are removed).
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from dataclasses import dataclass

import orjson
from confluent_kafka import Producer

from services.common import version
from services.common.compacted import CompactedTable, CompactedTopicError, MissingTopic
from services.common.config import KafkaSettings
from services.common.topics import PURGED_RELEASES

log = logging.getLogger(__name__)

SKIPPED = "skipped:"
REPORT_INTERVAL_S = 10.0
FAILURE_LOG_INTERVAL_S = 60.0


@dataclass(frozen=True)
class PurgedRelease:
    git_hash: str
    purged_at: float
    by: str
    skipped: dict[str, int]  # documents skipped so far, per sink target


def _table(kafka: KafkaSettings, timeout_s: float = 30.0) -> CompactedTable:
    return CompactedTable(kafka, kafka.topic(PURGED_RELEASES), timeout_s)


def _read(kafka: KafkaSettings) -> dict[str, bytes]:
    table = _table(kafka)
    try:
        return table.read()
    finally:
        table.close_consumer()


def releases(kafka: KafkaSettings) -> list[PurgedRelease]:
    """Every recorded release, oldest purge first, with the skips the sinks reported."""
    rows = _read(kafka)
    skipped: dict[str, Counter[str]] = {}
    for key, value in rows.items():
        if key.startswith(SKIPPED):
            git_hash, target, _instance = key[len(SKIPPED) :].split(":", 2)
            skipped.setdefault(git_hash, Counter())[target] += int(orjson.loads(value)["count"])
    found = []
    for key, value in rows.items():
        if not key.startswith(SKIPPED):
            record = orjson.loads(value)
            found.append(PurgedRelease(key, record["purged_at"], record["by"], dict(skipped.get(key, {}))))
    return sorted(found, key=lambda r: r.purged_at)


def record(kafka: KafkaSettings, git_hash: str) -> None:
    """Record a purged release; returns once Kafka acknowledged it, so deleting may start."""
    by = f"{version.username()}@{version.hostname()}"
    _table(kafka).write({git_hash: orjson.dumps({"git_hash": git_hash, "purged_at": time.time(), "by": by})})


def release(kafka: KafkaSettings, git_hash: str) -> bool:
    """Let the sinks index a release's documents again; False if it was not recorded."""
    rows = _read(kafka)
    if git_hash not in rows:
        return False
    prefix = f"{SKIPPED}{git_hash}:"
    _table(kafka).write({key: None for key in rows if key == git_hash or key.startswith(prefix)})
    return True


class PurgedHashes:
    """What one sink process skips: the recorded hashes, followed while it runs, and its skip counts."""

    def __init__(self, kafka: KafkaSettings, target: str) -> None:
        self.topic = kafka.topic(PURGED_RELEASES)
        self.target = target
        self.hashes: frozenset[str] = frozenset()
        # Short attempts: a sink that cannot reach Kafka says so every few seconds and stops promptly on SIGTERM.
        self._table = _table(kafka, timeout_s=5.0)
        self._instance = f"{version.hostname()}-{os.getpid()}"
        self._skipped: Counter[str] = Counter()
        self._reported: Counter[str] = Counter()
        self._last_report = 0.0
        self._extra = {"target": target}
        self._failing_since = 0.0
        self._last_failure_log = -FAILURE_LOG_INTERVAL_S

    def try_start(self) -> bool:
        """Read the recorded hashes (before the first document is consumed); False if Kafka did not answer.
        Retried by the caller: the first failure is logged, then one line a minute, so no retry storm."""
        try:
            self.start()
        except CompactedTopicError as exc:
            now = time.monotonic()
            self._failing_since = self._failing_since or now
            if now - self._last_failure_log >= FAILURE_LOG_INTERVAL_S:
                self._last_failure_log = now
                waited = f" (for {now - self._failing_since:.0f} s)" if now > self._failing_since else ""
                log.warning("cannot read purged releases yet%s, retrying: %s", waited, exc, extra=self._extra)
            return False
        if self._failing_since:
            log.info("purged releases read after %.0f s", time.monotonic() - self._failing_since, extra=self._extra)
        return True

    def start(self) -> None:
        """Read the recorded hashes before the first document is consumed."""
        try:
            self._table.read()
        except MissingTopic:
            log.warning(
                "topic %s is missing: purged releases cannot be skipped until `spider topics create` makes it",
                self.topic,
                extra=self._extra,
            )
            return
        self._update()

    def refresh(self, producer: Producer, *, final: bool = False) -> None:
        """Take in newly recorded or released hashes; every REPORT_INTERVAL_S (and when the sink stops), publish
        the skip counts that changed."""
        if self._table.follow():
            self._update()
        now = time.monotonic()
        if self._skipped == self._reported or (now - self._last_report < REPORT_INTERVAL_S and not final):
            return
        self._last_report = now
        for git_hash, count in self._skipped.items():
            if self._reported[git_hash] != count:
                key = f"{SKIPPED}{git_hash}:{self.target}:{self._instance}"
                producer.produce(self.topic, orjson.dumps({"count": count}), key.encode())
        self._reported = Counter(self._skipped)

    def skip(self, git_hash: str | None) -> bool:
        """Whether a document of this release must be skipped (and count it)."""
        if git_hash is None or git_hash not in self.hashes:
            return False
        self._skipped[git_hash] += 1
        return True

    def close(self) -> None:
        self._table.close_consumer()

    def _update(self) -> None:
        hashes = frozenset(key for key in self._table.rows if not key.startswith(SKIPPED))
        if hashes != self.hashes:
            self.hashes = hashes
            log.info("purged releases skipped: %s", ", ".join(sorted(hashes)) or "none", extra=self._extra)
