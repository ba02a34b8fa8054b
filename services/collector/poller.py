"""Queue and history polls of many schedds in parallel, each bounded in time, none blocking the others.

Every schedd poll runs in its own thread; at most `max_workers` run at once. A poll that exceeds its timeout
is abandoned: its slot is freed for the next schedd, it can no longer move a checkpoint, and the schedd is
skipped ("busy") until the stuck call returns, so a dead schedd never holds up the others or the next cycle.
Messages already handed to Kafka stay published whatever happens to the poll afterwards.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import classad2

from services.collector import metrics
from services.collector.checkpoints import CheckpointStore
from services.collector.config import CollectorConfig
from services.collector.pool import Pool, PoolError, PoolTimeout
from services.collector.queries import WindowRules, history_constraint, queue_constraint
from services.common import dead_letter, raw_message, topics
from services.common.config import MIB, size_text
from services.common.kafka import Delivery, Publisher

log = logging.getLogger(__name__)

QUEUE, HISTORY = "queue", "history"


class Cancelled(Exception):
    """The poll ran out of time; stop publishing and do not commit."""


class PollTask:
    """The shared state of one schedd poll: the worker commits only if the supervisor has not timed it out."""

    def __init__(self, name: str, timeout_s: float) -> None:
        self.name = name
        self.started = time.monotonic()
        self.deadline = self.started + timeout_s
        self._lock = threading.Lock()
        self._state = "running"

    def check(self) -> None:
        if self._state == "cancelled":
            raise Cancelled(self.name)

    def cancel(self) -> bool:
        """Supervisor side: False if the worker is already committing (then let it finish)."""
        with self._lock:
            if self._state == "running":
                self._state = "cancelled"
            return self._state == "cancelled"

    def begin_commit(self) -> bool:
        with self._lock:
            if self._state == "running":
                self._state = "committing"
            return self._state == "committing"

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


@dataclass
class PollResult:
    source: str
    schedd: str
    ok: bool
    ads: int = 0
    reason: str | None = None
    detail: str = ""
    checkpoint: float | None = None
    seconds: float = 0.0


class Poller:
    def __init__(
        self,
        config: CollectorConfig,
        pool: Pool,
        publisher: Publisher,
        checkpoints: CheckpointStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.pool = pool
        self.publisher = publisher
        self.checkpoints = checkpoints
        self.clock = clock
        self.rules = WindowRules(
            overlap_s=config.history_overlap_s,
            lookback_s=config.history_lookback_min * 60,
            max_age_s=config.history_max_age_s,
            crab_max_age_s=config.crab_max_age_s,
        )
        self.identity = raw_message.collector_identity()
        kafka = config.kafka
        self._raw_limit = kafka.message_size.limit(topics.RAW_HISTORY) or MIB
        self._dlq_topic = kafka.topic(topics.DLQ_CONVERTER)
        self._dlq_limit = kafka.message_size.limit(topics.DLQ_CONVERTER)
        self._service = dead_letter.service_identity("collector")
        self._busy: set[tuple[str, str]] = set()
        self._busy_lock = threading.Lock()

    # --- one schedd ---------------------------------------------------------------------------------------

    def _publish(
        self,
        topic: str,
        ads: list[classad2.ClassAd],
        schedd: classad2.ClassAd,
        task: PollTask,
        delivery: Delivery,
        source: str,
        now: float,
        snapshot_id: str | None = None,
    ) -> None:
        for ad in ads:
            task.check()
            key, value = raw_message.encode(
                ad,
                source=source,
                pool=schedd.get("CMS_Pool"),
                schedd=schedd["Name"],
                collected_at=now,
                snapshot_id=snapshot_id,
                snapshot_time=now if snapshot_id else None,
                identity=self.identity,
            )
            if len(value) > self._raw_limit:
                self._dead_letter_oversized(topic, key, value, schedd["Name"], source, delivery, now)
                continue
            self.publisher.produce(topic, key, value, delivery)

    def _dead_letter_oversized(
        self, topic: str, key: bytes, value: bytes, schedd: str, source: str, delivery: Delivery, now: float
    ) -> None:
        """An ad larger than the raw topics take cannot be published: Kafka would refuse it at every poll and the
        schedd's checkpoint would never move again. It becomes a dead letter instead (cut to what the dead-letter
        topic takes), delivered within the poll, so the checkpoint moves only once the dead letter is stored."""
        reason = f"raw ad of {size_text(len(value))} exceeds the {size_text(self._raw_limit)} limit of {topic}"
        kind = HISTORY if source == "condor_history" else QUEUE
        log.warning("%s: ad not published: %s", schedd, reason, extra={"schedd": schedd, "source": kind})
        metrics.SKIPPED_ADS.labels(kind=kind, schedd=schedd).inc()
        letter = dead_letter.record(
            "collector",
            reason,
            dead_letter.Origin(topic=topic, key=key, value=value),
            self._service,
            details={"schedd": schedd},
            now=now,
        )
        letter_key, letter_value = dead_letter.encode(letter, max_bytes=self._dlq_limit)
        self.publisher.produce(self._dlq_topic, letter_key, letter_value, delivery)

    def _acknowledged(self, delivery: Delivery, task: PollTask) -> str | None:
        """None when Kafka acknowledged every message of the poll, else why not."""
        if not delivery.wait(task.remaining()):
            return f"{delivery.pending} messages not acknowledged in time"
        if delivery.failed:
            return f"{delivery.failed} messages not delivered: {delivery.first_error}"
        return None

    def poll_queue(self, schedd: classad2.ClassAd, task: PollTask) -> PollResult:
        name = schedd["Name"]
        now = self.clock()
        snapshot_id = uuid.uuid4().hex
        ads = self.pool.query_queue(schedd, queue_constraint(now, self.config.queue_recent_s))
        task.check()
        delivery = Delivery()
        self._publish(
            self.config.kafka.topic(topics.RAW_QUEUE), ads, schedd, task, delivery, "condor_queue", now, snapshot_id
        )
        problem = self._acknowledged(delivery, task)
        metrics.ADS_PUBLISHED.labels(kind=QUEUE, schedd=name).inc(delivery.delivered)
        metrics.DELIVERY_FAILURES.labels(kind=QUEUE, schedd=name).inc(delivery.failed)
        if problem:
            return PollResult(QUEUE, name, False, delivery.delivered, "delivery", problem)
        metrics.SNAPSHOT_SIZE.labels(schedd=name).set(len(ads))
        return PollResult(QUEUE, name, True, len(ads), detail=f"snapshot {snapshot_id}")

    def history_pages(
        self, schedd: classad2.ClassAd, low: int, high: int | None, now: float, task: PollTask
    ) -> Iterator[list[classad2.ClassAd]]:
        """History of [low, high) in pages of at most `history_page_size` ads, oldest window first.

        A window holding more ads than a page is split in two, so a large backlog is read in full rather than
        cut at a match limit. A one-second window cannot be split and is read whole.
        """
        size = self.config.history_page_size
        constraint = history_constraint(low, high)
        ads = self.pool.query_history(schedd, constraint, size + 1)
        task.check()
        if len(ads) <= size:
            yield ads
            return
        top = high if high is not None else int(now) + 1
        if top - low <= 1:
            yield self.pool.query_history(schedd, constraint, -1)
            return
        middle = (low + top) // 2
        yield from self.history_pages(schedd, low, middle, now, task)
        yield from self.history_pages(schedd, middle, high, now, task)

    def poll_history(self, schedd: classad2.ClassAd, checkpoint: float | None, task: PollTask) -> PollResult:
        name = schedd["Name"]
        now = self.clock()
        start = self.rules.effective_checkpoint(name, checkpoint, now)
        newest = start
        delivery = Delivery()
        topic = self.config.kafka.topic(topics.RAW_HISTORY)
        for page in self.history_pages(schedd, self.rules.first_time(name, checkpoint, now), None, now, task):
            self._publish(topic, page, schedd, task, delivery, "condor_history", now)
            for ad in page:
                completed = ad.get("EnteredCurrentStatus")
                if isinstance(completed, int | float) and not isinstance(completed, bool | classad2.Value):
                    newest = max(newest, completed)
        problem = self._acknowledged(delivery, task)
        metrics.ADS_PUBLISHED.labels(kind=HISTORY, schedd=name).inc(delivery.delivered)
        metrics.DELIVERY_FAILURES.labels(kind=HISTORY, schedd=name).inc(delivery.failed)
        if problem:
            return PollResult(HISTORY, name, False, delivery.delivered, "delivery", problem, checkpoint)
        if not task.begin_commit():
            raise Cancelled(name)
        self.checkpoints.save({name: newest})
        metrics.CHECKPOINT_AGE.labels(schedd=name).set(max(0.0, self.clock() - newest))
        return PollResult(HISTORY, name, True, delivery.delivered, checkpoint=newest)

    # --- a cycle over many schedds ------------------------------------------------------------------------

    def _work(self, source: str, schedd: classad2.ClassAd, task: PollTask, checkpoint: float | None) -> PollResult:
        name = schedd["Name"]
        try:
            if source == QUEUE:
                return self.poll_queue(schedd, task)
            return self.poll_history(schedd, checkpoint, task)
        except Cancelled:
            return PollResult(source, name, False, reason="timeout", detail="abandoned after its timeout")
        except PoolTimeout as exc:
            return PollResult(source, name, False, reason="timeout", detail=str(exc), checkpoint=checkpoint)
        except PoolError as exc:
            return PollResult(source, name, False, reason="error", detail=str(exc), checkpoint=checkpoint)
        except Exception as exc:
            log.exception("poll of %s failed", name, extra={"schedd": name, "source": source})
            return PollResult(source, name, False, reason="error", detail=f"{type(exc).__name__}: {exc}")

    def run_cycle(self, source: str, schedds: list[classad2.ClassAd], deadline: float) -> list[PollResult]:
        """Poll every schedd once; returns when all finished, timed out, or the run's `deadline` (monotonic)."""
        stored = self.checkpoints.load() if source == HISTORY else {}
        results: list[PollResult] = []
        waiting = list(schedds)
        running: dict[str, PollTask] = {}
        finished: queue.Queue[tuple[PollTask, PollResult]] = queue.Queue()

        def worker(schedd: classad2.ClassAd, task: PollTask, checkpoint: float | None) -> None:
            try:
                result = self._work(source, schedd, task, checkpoint)
                result.seconds = time.monotonic() - task.started
                finished.put((task, result))
            finally:
                with self._busy_lock:
                    self._busy.discard((source, task.name))

        while waiting or running:
            now = time.monotonic()
            while waiting and len(running) < self.config.max_workers and now < deadline:
                schedd = waiting.pop(0)
                name = schedd["Name"]
                with self._busy_lock:
                    busy = (source, name) in self._busy
                    self._busy.add((source, name))
                if busy:
                    results.append(PollResult(source, name, False, reason="busy", detail="previous poll still stuck"))
                    continue
                timeout = min(self.config.schedd_timeout_s, deadline - now)
                task = running[name] = PollTask(name, timeout)
                threading.Thread(
                    target=worker, args=(schedd, task, stored.get(name)), name=f"{source}:{name}", daemon=True
                ).start()
            if now >= deadline:
                results += [
                    PollResult(source, s["Name"], False, reason="budget", detail="not started") for s in waiting
                ]
                waiting.clear()
            next_timeout = min((t.deadline for t in running.values()), default=now + 0.1)
            try:
                task, result = finished.get(timeout=max(0.01, min(next_timeout, deadline) - now))
                if running.get(task.name) is task:
                    del running[task.name]
                    results.append(result)
            except queue.Empty:
                pass
            for name, task in list(running.items()):
                if task.remaining() <= 0 and task.cancel():
                    del running[name]
                    reason = "budget" if task.deadline >= deadline else "timeout"
                    results.append(
                        PollResult(
                            source,
                            name,
                            False,
                            reason=reason,
                            detail=f"no answer in {task.deadline - task.started:.0f} s",
                            seconds=task.deadline - task.started,
                        )
                    )
        for result in results:
            self._report(result)
        return results

    def _report(self, result: PollResult) -> None:
        extra = {"schedd": result.schedd, "source": result.source, "ads": result.ads, "seconds": result.seconds}
        metrics.POLL_DURATION.labels(kind=result.source, schedd=result.schedd).set(result.seconds)
        if result.ok:
            metrics.LAST_SUCCESS.labels(kind=result.source, schedd=result.schedd).set(self.clock())
            log.info(
                "%s poll of %s: %d ads published %s",
                result.source,
                result.schedd,
                result.ads,
                result.detail,
                extra=extra,
            )
        else:
            metrics.POLL_FAILURES.labels(kind=result.source, schedd=result.schedd, reason=result.reason).inc()
            log.warning(
                "%s poll of %s failed (%s): %s; %d ads published%s",
                result.source,
                result.schedd,
                result.reason,
                result.detail,
                result.ads,
                ", checkpoint unchanged" if result.source == HISTORY else "",
                extra=extra | {"reason": result.reason},
            )
