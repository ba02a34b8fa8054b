"""faust's Kafka transport with a short fetch wait, a cheaper per-message hand-over to the streams, and a bounded
wait for unacknowledged messages on stop and rebalance.

Fetch wait:

faust builds its worker consumer with `fetch_max_wait_ms=1500` and offers no setting for it. aiokafka keeps one
fetch in flight per broker and leaves out of it the partitions whose records are still buffered; while the
agent converts those, the next fetch holds only the idle partitions (raw.queue between collector polls, or
raw.history) and the broker keeps it open for the whole wait. Nothing new arrives for the busy partitions
meanwhile: the worker measured ~1.3 s idle after every ~1,300 messages, 60% of its time. A short wait bounds
that stall; the price is a few empty fetches per second on an idle topic.

Hand-over: faust passes every fetched message to the conductor inside `wait_first(on_message, suspend_flow)`,
which creates four tasks and an `asyncio.wait` per message (~8% of the worker) so that a rebalance can abandon a
hand-over blocked on a full stream buffer. Most messages cannot block: flow is on and the buffers have room, and
then the conductor's coroutine runs to its end without yielding. The consumer here awaits it directly in that
case and keeps faust's guarded path for the others.

Bounded wait: before a rebalance or a stop, faust waits in `Consumer.wait_empty` until every message handed to
an agent is acknowledged, for ever, logging "wait_empty: Waiting for tasks" every 10 s. The agents are only
stopped after that wait (the app's `on_stop` runs before its children stop), so a message whose output Kafka
never acknowledges (Kafka unreachable, a crashed agent) held the stop until kill -9. Here the wait ends after
`drain_timeout_s`; what is still unacknowledged is not committed, and is consumed again by the next owner.
The commits of that path are bounded the same way: aiokafka retries a commit until a coordinator answers.

Written against faust-streaming 0.15.3 and aiokafka's consumer start: `App` checks at construction that the
internals it re-implements or relies on (`RELIED_ON`) are the ones recorded, and refuses to start otherwise,
naming the installed versions; tests/unit/converter/test_faust_override.py fails on the same change.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import inspect
import time
from collections.abc import Iterable
from importlib import metadata
from typing import Any

import aiokafka
import faust
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import ServiceT

from services.common.errors import SpiderError

LEAVE_TIMEOUT_S = 5.0

WRITTEN_FOR = "faust-streaming 0.15.3"
# The faust and aiokafka functions this module re-implements, overrides or whose behaviour it relies on, with the
# sha256 (first 16 hex digits) of their source in the versions it was written for.
RELIED_ON = {
    "faust.transport.consumer:Consumer._drain_messages": "44a2500309e83c63",
    "faust.transport.consumer:Consumer.wait_empty": "e4662fe24f094819",
    "faust.transport.drivers.aiokafka:Consumer._new_consumer_thread": "0870ec53dea75083",
    "faust.transport.drivers.aiokafka:AIOKafkaConsumerThread._create_worker_consumer": "c2701bfc3e6f6cad",
    "faust.transport.drivers.aiokafka:AIOKafkaConsumerThread.on_thread_stop": "8dfc004e258b6c25",
    "faust.transport.conductor:Conductor._compile_message_handler": "9fbc0538097aa4ec",
    "faust.app.base:App.on_init_dependencies": "7621a70a9b01f93f",
    "faust.app.base:App._new_transport": "42db531312dd776f",
    "aiokafka.consumer.consumer:AIOKafkaConsumer.start": "2f1ba70443327538",
}


class FaustMismatch(SpiderError):
    """The installed faust (or aiokafka) changed what this module overrides."""


def fingerprint(target: str) -> str:
    """The source hash of `module:Class.function`."""
    module, _, path = target.partition(":")
    obj: Any = importlib.import_module(module)
    for name in path.split("."):
        obj = getattr(obj, name)
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]


def changed_internals() -> list[str]:
    return [target for target, recorded in RELIED_ON.items() if fingerprint(target) != recorded]


def check_installed_faust() -> None:
    """Refuse to run the overrides on faust internals they were not written for."""
    changed = changed_internals()
    if changed:
        installed = f"faust-streaming {metadata.version('faust-streaming')}, aiokafka {metadata.version('aiokafka')}"
        raise FaustMismatch(
            f"services/converter/faust_kafka.py was written for {WRITTEN_FOR}, but the installed {installed} "
            f"changed {', '.join(changed)}: review the overrides against it, then record the new hashes in RELIED_ON "
            "(or install the version of deploy/constraints.txt)"
        )


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: faust_aiokafka.Transport) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = self.app.fetch_max_wait_ms  # both read by AIOKafkaConsumer.start()
        consumer._fetch_max_bytes = self.app.fetch_max_bytes
        return consumer

    async def on_thread_stop(self) -> None:
        """faust's stop of the consumer thread, with the aiokafka consumer's close (its last coordination round
        and leave-group request, each waiting up to the request timeout) bounded by LEAVE_TIMEOUT_S."""
        await faust_consumer.ConsumerThread.on_thread_stop(self)  # the method queue, as faust's parent does
        if self._consumer is not None:
            try:
                await asyncio.wait_for(self._consumer.stop(), timeout=LEAVE_TIMEOUT_S)
            except TimeoutError:
                self.log.warning(
                    "Kafka did not answer the consumer's close in %.0f s; the group reassigns its partitions after "
                    "the session timeout",
                    LEAVE_TIMEOUT_S,
                )


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def wait_empty(self) -> None:
        """faust's wait for the messages being processed to be acknowledged, for at most `drain_timeout_s`."""
        app: App = self.app  # type: ignore[assignment]
        deadline = time.monotonic() + app.drain_timeout_s
        while self._unacked_messages and not self.should_stop and time.monotonic() < deadline:
            await self._commit_until(deadline)
            self._clean_unacked_messages()
            if self._unacked_messages:
                await self._wait_for_ack(timeout=1)
                self._clean_unacked_messages()
        if self._unacked_messages and not self.should_stop:
            self.log.warning(
                "%d messages not acknowledged %.0f s after the stop or rebalance began; left uncommitted, "
                "they are consumed again",
                len(self._unacked_messages),
                app.drain_timeout_s,
            )
        await self._commit_until(max(deadline, time.monotonic() + 2.0))

    async def _commit_until(self, deadline: float) -> None:
        try:
            await asyncio.wait_for(
                self.commit(start_new_transaction=False), timeout=max(deadline - time.monotonic(), 0.1)
            )
        except TimeoutError:
            self.log.warning("offset commit not answered by Kafka in time; the acknowledged tail is consumed again")

    def _hand_over_cannot_block(self) -> bool:
        """True when the conductor's `on_message` would run to its end without waiting: flow is on, its lock
        is free, faust's producer buffer is below its limit, and every stream buffer has room."""
        app = self.app
        conductor = app.topics
        return (
            self.flow_active
            and app.flow_control.is_active()
            and not conductor._tp_to_callback_lock.locked()
            and app.producer.buffer.size <= app.producer.buffer.max_messages
            and not any(channel.queue.full() for channel in conductor)
        )

    async def _drain_messages(self, fetcher: ServiceT) -> None:
        """faust's fetch loop (read offsets, gaps, commit_every, hand-over) with a direct hand-over when it
        cannot block; the loop's structure and error handling are faust's (`Consumer._drain_messages`)."""
        hand_over = self.callback
        read_offset = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        stopping = self._stopped.is_set
        fetcher_stopping = fetcher._stopped.is_set  # type: ignore[attr-defined]
        since_yield = 0
        try:
            while not (stopping() or fetcher_stopping()):
                self.diag.set_flag(faust_consumer.CONSUMER_FETCHING)
                records = self.getmany(timeout=1.0)
                await asyncio.sleep(0)
                if self.should_stop:
                    continue
                async for tp, message in records:
                    since_yield += 1
                    if since_yield > 100:
                        await asyncio.sleep(0)
                        since_yield = 0
                    offset = message.offset
                    last = read_offset[tp]
                    if last is not None and offset < last:
                        continue  # already handed over before a seek
                    if last and offset - last > 1 and acks_enabled_for(message.topic):
                        await self._add_gap(tp, last + 1, offset)
                    if self._commit_every is not None and self._n_acked >= self._commit_every:
                        self._n_acked = 0
                        await self.commit()
                    if self._hand_over_cannot_block():
                        await hand_over(message)
                    else:
                        await self.wait_first(hand_over(message), self.suspend_flow.wait())
                    read_offset[tp] = offset
                self.diag.unset_flag(faust_consumer.CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise
        except asyncio.CancelledError:
            if not self.transport.app.should_stop:
                raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(faust_consumer.CONSUMER_FETCHING)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class App(faust.App):
    """A faust app whose worker consumer waits at most `fetch_max_wait_ms` for data in a fetch and takes at most
    `fetch_max_bytes` in one, hands messages over cheaply, waits at most `drain_timeout_s` for unacknowledged
    messages, and has no Monitor sensor."""

    def __init__(
        self,
        *args: Any,
        fetch_max_wait_ms: int,
        drain_timeout_s: float,
        fetch_max_bytes: int,
        **kwargs: Any,
    ) -> None:
        check_installed_faust()
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.fetch_max_bytes = fetch_max_bytes
        self.drain_timeout_s = drain_timeout_s
        self._stop_began: float | None = None
        super().__init__(*args, **kwargs)

    async def on_stop(self) -> None:
        self._stop_began = time.monotonic()
        await super().on_stop()

    def drain_remaining(self) -> float:
        """Seconds left for the agents to have their outputs acknowledged since the stop began."""
        began = self._stop_began if self._stop_began is not None else time.monotonic()
        return max(0.0, began + self.drain_timeout_s - time.monotonic())

    def _new_transport(self) -> _Transport:
        return _Transport(self.conf.broker_consumer, self)

    def on_init_dependencies(self) -> Iterable[ServiceT]:
        """faust installs its Monitor as a sensor here. It keeps per-message and per-event timings for faust's
        web view, which spider disables (metrics are its own prometheus counters): ~2% of the worker for nothing."""
        dependencies = super().on_init_dependencies()
        self.sensors.remove(self.monitor)
        return dependencies
