"""`spider dlq`: count, show and re-drive the dead letters of dlq.converter and dlq.sinks.

A dead letter keeps the original message's bytes, key, headers and coordinates (services/common/dead_letter.py).
Re-driving sends those bytes back into the topic they came from, in the same partition, once the cause is
fixed: a converter dead letter into its raw topic (the converter converts it again), a sink dead letter into
its document topic with the re-drive marker (services/common/redrive.py) naming the targets that refused it,
so the sinks that already accepted the document skip it.

Re-driving is idempotent: documents keep their ids, so a search cluster overwrites rather than adds; and each
re-driven message names the dead letters it re-sends, so a second re-drive of the same selection finds them
in the input topic and sends nothing again unless asked to (`--again`).

Selection and planning are pure functions over decoded records; the Kafka reads and writes are at the edges.
"""

from __future__ import annotations

import base64
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import orjson
from confluent_kafka import Message

from services.common import dead_letter, redrive
from services.common import kafka as kafka_clients
from services.common.dead_letter import DeadLetter
from services.common.errors import SpiderError
from services.recovery.kafka_view import TP, KafkaView
from services.recovery.timepoints import from_ms, iso, to_ms

# Dead letters are written a moment after their Kafka timestamp is set, and clocks of hosts differ a little:
# a time window starts this much earlier in Kafka, then each record's own time decides.
CLOCK_MARGIN = timedelta(minutes=5)
_BULK_ERROR = re.compile(r"^HTTP \d+ ([A-Za-z_.]+)")
_SECRET_WORDS = r"passw(?:or)?d|passphrase|passcode|secret|token|credential|api_?key|private_?key"
_SECRET_NAME = re.compile(_SECRET_WORDS, re.IGNORECASE)
_SECRET_ASSIGNMENT = re.compile(
    rf"\b([A-Za-z0-9_]*(?:{_SECRET_WORDS})[A-Za-z0-9_]*)"
    r"(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s;,\"']+)",
    re.IGNORECASE,
)
MASK = "***"


@dataclass(frozen=True, slots=True)
class Stored:
    """A record of a dead-letter topic: where it is, and the dead letter (None if the record is unreadable)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    letter: DeadLetter | None
    problem: str | None = None

    @property
    def coordinate(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


def coordinate(topic: str | None, partition: int | None, offset: int | None) -> str:
    return f"{topic}:{partition}:{offset}"


def target_of(letter: DeadLetter) -> str | None:
    """The sink target that refused the document (`details.target`, else the stage `sink-<target>`)."""
    target = letter.details.get("target")
    if isinstance(target, str) and target:
        return target
    return letter.stage.removeprefix("sink-") if letter.stage.startswith("sink-") else None


def reason_class(letter: DeadLetter) -> str:
    """A small set to count by: the cluster's error type of a bulk rejection (document_parsing_exception),
    else the class the stage recorded (converter: malformed_envelope, conversion_error, internal_error;
    sinks: rejected, undecodable), else the error type."""
    found = _BULK_ERROR.match(letter.reason)
    if found:
        return found.group(1)
    for name in ("reason", "class"):
        value = letter.details.get(name)
        if isinstance(value, str) and value:
            return value
    return letter.error_type or "unknown"


def is_cut(letter: DeadLetter) -> bool:
    """The record keeps only the start of an oversized original value (details.original_cut)."""
    return "original_cut" in letter.details


def is_redriven(letter: DeadLetter) -> bool:
    """Whether the refused message was itself a re-drive (the cause was not fixed yet)."""
    return bool(redrive.redriven_from(letter.origin.headers))


@dataclass(frozen=True)
class Selection:
    """Which dead letters an operator means; every given criterion must hold (a list matches any of its values).

    `at` holds topic:partition:offset triples, of dead letters or of the original messages."""

    reasons: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    at: frozenset[tuple[str, int, int]] = frozenset()
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, stored: Stored) -> bool:
        letter = stored.letter
        if self.at and not self._named(stored):
            return False
        if letter is None:
            return not (self.reasons or self.classes or self.targets or self.ids or self.timed)
        if self.since is not None and letter.time < self.since.timestamp():
            return False
        if self.until is not None and letter.time >= self.until.timestamp():
            return False
        if self.reasons and not any(text.lower() in letter.reason.lower() for text in self.reasons):
            return False
        if self.classes and reason_class(letter) not in self.classes:
            return False
        if self.targets and target_of(letter) not in self.targets:
            return False
        return not self.ids or _has_id(letter, self.ids)

    def _named(self, stored: Stored) -> bool:
        if (stored.topic, stored.partition, stored.offset) in self.at:
            return True
        origin = stored.letter.origin if stored.letter else None
        return origin is not None and (origin.topic, origin.partition, origin.offset) in self.at

    @property
    def timed(self) -> bool:
        return self.since is not None or self.until is not None


def _has_id(letter: DeadLetter, ids: Iterable[str]) -> bool:
    """The key is the document id (`GlobalJobId#RecordTime`, sinks) or the GlobalJobId (converter)."""
    key = (letter.origin.key or b"").decode("utf-8", "replace")
    return bool(key) and any(key == wanted or key.startswith(f"{wanted}#") for wanted in ids)


def decode(msg: Message) -> Stored:
    topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
    timestamp_ms = msg.timestamp()[1]
    try:
        return Stored(topic, partition, offset, timestamp_ms, dead_letter.decode(msg.value() or b""))
    except dead_letter.MalformedDeadLetter as exc:
        return Stored(topic, partition, offset, timestamp_ms, None, str(exc))


# -- reading ------------------------------------------------------------------------------------------------


def scan_ranges(view: KafkaView, topics: Iterable[str], selection: Selection) -> dict[TP, tuple[int, int]]:
    """What to read of the dead-letter topics: only the named records when `--at` names dead letters only,
    else from `--since` (less the clock margin) or the oldest record kept, to the current end."""
    tps = view.partitions(topics)
    marks = view.watermarks(tps)
    named = {(t, p, o) for t, p, o in selection.at if (t, p) in marks}
    if selection.at and len(named) == len(selection.at):
        ranges: dict[TP, tuple[int, int]] = {}
        for t, p, o in named:
            low, end = marks[(t, p)]
            if low <= o < end:
                start, stop = ranges.get((t, p), (o, o + 1))
                ranges[(t, p)] = (min(start, o), max(stop, o + 1))
        return ranges
    starts = {tp: low for tp, (low, _end) in marks.items()}
    if selection.since is not None:
        found = view.offsets_for_time(tps, to_ms(selection.since - CLOCK_MARGIN))
        starts = {tp: marks[tp][1] if found[tp].offset < 0 else max(found[tp].offset, starts[tp]) for tp in tps}
    return {tp: (starts[tp], marks[tp][1]) for tp in tps}


def read(view: KafkaView, topics: Iterable[str], selection: Selection) -> Iterator[Stored]:
    """The dead letters of `topics` that the selection matches; unreadable records too unless a filter on the
    content or time applies (they are counted and shown, never re-driven)."""
    for msg in view.read(scan_ranges(view, topics, selection)):
        stored = decode(msg)
        if selection.matches(stored):
            yield stored


# -- count ----------------------------------------------------------------------------------------------------


@dataclass
class Group:
    """Dead letters of one topic, stage and reason class."""

    topic: str
    stage: str
    reason_class: str
    count: int = 0
    first: float | None = None
    last: float | None = None
    from_redrive: int = 0
    sample: str = ""

    def add(self, letter: DeadLetter) -> None:
        self.count += 1
        self.first = letter.time if self.first is None else min(self.first, letter.time)
        self.last = letter.time if self.last is None else max(self.last, letter.time)
        self.from_redrive += is_redriven(letter)
        self.sample = self.sample or mask_text(letter.reason)[:300]


@dataclass
class Summary:
    topics: list[str]
    groups: list[Group] = field(default_factory=list)
    unreadable: dict[str, int] = field(default_factory=dict)

    def total(self, topic: str) -> int:
        return sum(g.count for g in self.groups if g.topic == topic) + self.unreadable.get(topic, 0)


def summarize(topics: list[str], found: Iterable[Stored]) -> Summary:
    groups: dict[tuple[str, str, str], Group] = {}
    unreadable: dict[str, int] = defaultdict(int)
    for stored in found:
        letter = stored.letter
        if letter is None:
            unreadable[stored.topic] += 1
            continue
        key = (stored.topic, letter.stage, reason_class(letter))
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(*key)
        group.add(letter)
    ordered = sorted(groups.values(), key=lambda g: (g.topic, -g.count, g.stage, g.reason_class))
    return Summary(topics, ordered, dict(unreadable))


def _time(seconds: float | None) -> str | None:
    return iso(from_ms(int(seconds * 1000))) if seconds is not None else None


def summary_json(summary: Summary, existing: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for topic in summary.topics:
        groups = [g for g in summary.groups if g.topic == topic]
        firsts = [g.first for g in groups if g.first is not None]
        lasts = [g.last for g in groups if g.last is not None]
        out[topic] = {
            "exists": topic in existing,
            "total": summary.total(topic),
            "first": _time(min(firsts)) if firsts else None,
            "last": _time(max(lasts)) if lasts else None,
            "unreadable": summary.unreadable.get(topic, 0),
            "groups": [
                {
                    "stage": g.stage,
                    "reason_class": g.reason_class,
                    "count": g.count,
                    "first": _time(g.first),
                    "last": _time(g.last),
                    "from_redrive": g.from_redrive,
                    "sample": g.sample,
                }
                for g in groups
            ],
        }
    return {"topics": out}


# -- show -----------------------------------------------------------------------------------------------------


def mask_text(text: str) -> str:
    """`X509_TOKEN=abc` / `password: abc` -> `X509_TOKEN=***`: credentials in ads' Environment and in reasons."""
    return _SECRET_ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


def mask(value: Any) -> Any:
    """A JSON value with the values of secret-looking names, and secret-looking assignments in text, masked."""
    if isinstance(value, Mapping):
        return {k: MASK if _SECRET_NAME.search(str(k)) else mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


def _bytes_view(data: bytes | None) -> Any:
    """Original bytes for a person: the JSON they hold, else the text, else base64."""
    if data is None:
        return None
    try:
        return mask(orjson.loads(data))
    except orjson.JSONDecodeError:
        pass
    try:
        return mask_text(data.decode("utf-8"))
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


def describe(stored: Stored) -> dict[str, Any]:
    """One dead letter in full, for `spider dlq show`: the record, and the original message decoded."""
    out: dict[str, Any] = {"dead_letter": stored.coordinate, "kafka_time": iso(from_ms(stored.timestamp_ms))}
    letter = stored.letter
    if letter is None:
        return out | {"unreadable": stored.problem}
    origin = letter.origin
    headers = {name: _bytes_view(value) for name, value in origin.headers}
    out |= {
        "stage": letter.stage,
        "target": target_of(letter),
        "reason_class": reason_class(letter),
        "reason": mask_text(letter.reason),
        "error_type": letter.error_type,
        "time": _time(letter.time),
        "service": letter.service,
        "details": mask(letter.details),
        "original": {
            "message": coordinate(origin.topic, origin.partition, origin.offset),
            "key": _bytes_view(origin.key),
            "headers": headers,
            "redrive_of": redrive.redriven_from(origin.headers),
            "value": _bytes_view(origin.value),
        },
    }
    return out


# -- re-drive -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """One message to send back: the original bytes, to `topic` (and `partition` when the topic has it)."""

    topic: str
    partition: int | None
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes | None], ...]
    targets: tuple[str, ...]
    of: tuple[str, ...]
    time: float

    def marked_headers(self) -> list[tuple[str, bytes | None]]:
        return redrive.marked(self.headers, self.targets, self.of)


@dataclass
class Plan:
    sends: list[Send] = field(default_factory=list)
    already: dict[str, str] = field(default_factory=dict)  # dead letter -> where it was re-driven
    superseded: list[str] = field(default_factory=list)  # dead letters of a document a newer one re-drives
    unusable: dict[str, str] = field(default_factory=dict)  # dead letter -> why it cannot be re-driven

    def rows(self) -> list[tuple[str, str, int]]:
        """(topic, targets, messages) to print: how many go where, for which sink targets."""
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for send in self.sends:
            counts[(send.topic, ",".join(send.targets) or "all sinks (converted again)")] += 1
        return [(topic, targets, n) for (topic, targets), n in sorted(counts.items())]


def unusable_reason(letter: DeadLetter, inputs: Mapping[str, tuple[str, ...]]) -> str | None:
    """Why a dead letter cannot go back where it came from; None if it can. `inputs` maps a role (converter,
    sink) to the full names of the topics that role consumes in this configuration."""
    origin = letter.origin
    role = "sink" if letter.stage.startswith("sink") else letter.stage
    if origin.topic is None:
        return "no origin topic (the input was read from a file): convert the file again"
    if origin.value is None:
        return "the original message has no value"
    if role not in inputs:
        return f"stage {letter.stage!r} has no input topic to re-drive into"
    if origin.topic not in inputs[role]:
        return f"origin topic {origin.topic} is not an input of the {role} here ({', '.join(inputs[role])})"
    if role == "sink" and target_of(letter) is None:
        return "the dead letter names no sink target"
    if is_cut(letter):
        return f"the record keeps only the start of the original value, and {origin.topic} no longer holds it"
    return None


def plan(
    found: Iterable[Stored],
    inputs: Mapping[str, tuple[str, ...]],
    redriven: Mapping[str, str] | None = None,
    *,
    again: bool = False,
) -> Plan:
    """What a re-drive sends, and what it leaves out and why. `redriven` maps dead-letter coordinates to the
    message that already re-drove them (left out unless `again`). Sink dead letters of one document id and
    target: only the newest (highest origin offset) is sent, and its `redrive_of` names the older ones too, so a
    later re-drive knows them as done. Dead letters of one original message (several targets refused it)
    become one message naming every such target."""
    result = Plan()
    candidates: list[Stored] = []
    for stored in found:
        letter = stored.letter
        why = stored.problem if letter is None else unusable_reason(letter, inputs)
        if why is not None:
            result.unusable[stored.coordinate] = why
        elif not again and redriven and stored.coordinate in redriven:
            result.already[stored.coordinate] = redriven[stored.coordinate]
        else:
            candidates.append(stored)
    newest: dict[tuple[str, bytes, str], Stored] = {}
    for stored in candidates:
        letter = stored.letter
        assert letter is not None
        target = target_of(letter)
        if target is None or not letter.origin.key:
            continue
        doc = (letter.origin.topic or "", letter.origin.key, target)
        other = newest.get(doc)
        if other is None or _origin_position(stored) > _origin_position(other):
            newest[doc] = stored
    kept = set(map(id, newest.values()))
    covered: dict[int, list[str]] = defaultdict(list)  # a kept dead letter -> the older ones its send covers
    merged: dict[tuple[str, int | None, int | None], list[Stored]] = {}
    for stored in candidates:
        letter = stored.letter
        assert letter is not None
        target = target_of(letter)
        if target is not None and letter.origin.key and id(stored) not in kept:
            result.superseded.append(stored.coordinate)
            covered[id(newest[(letter.origin.topic or "", letter.origin.key, target)])].append(stored.coordinate)
            continue
        origin = letter.origin
        merged.setdefault((origin.topic or "", origin.partition, origin.offset), []).append(stored)
    for (topic, partition, _offset), group in sorted(merged.items(), key=lambda kv: str(kv[0])):
        letters = [s.letter for s in group if s.letter is not None]
        origin = letters[0].origin
        result.sends.append(
            Send(
                topic=topic,
                partition=partition,
                key=origin.key,
                value=origin.value or b"",
                headers=tuple(origin.headers),
                targets=tuple(sorted({t for t in map(target_of, letters) if t is not None})),
                of=tuple(sorted(c for s in group for c in (s.coordinate, *covered[id(s)]))),
                time=min(letter.time for letter in letters),
            )
        )
    return result


def _origin_position(stored: Stored) -> tuple[int, int]:
    origin = stored.letter.origin if stored.letter else None
    return (-1, -1) if origin is None else (origin.partition or 0, origin.offset or 0)


def restore_cut(view: KafkaView, found: list[Stored]) -> list[Stored]:
    """Cut dead letters with the whole original value read back from their origin, while its topic keeps it."""
    wanted: dict[TP, list[int]] = defaultdict(list)
    for stored in found:
        origin = stored.letter.origin if stored.letter and is_cut(stored.letter) else None
        if (
            origin is not None
            and origin.topic is not None
            and origin.partition is not None
            and origin.offset is not None
        ):
            wanted[(origin.topic, origin.partition)].append(origin.offset)
    if not wanted:
        return found
    marks = view.watermarks(set(view.partitions({t for t, _ in wanted})) & set(wanted))
    ranges = {tp: (max(min(wanted[tp]), low), min(max(wanted[tp]) + 1, end)) for tp, (low, end) in marks.items()}
    whole = {(m.topic(), m.partition(), m.offset()): m.value() for m in view.read(ranges)}
    restored = []
    for stored in found:
        letter = stored.letter
        origin = letter.origin if letter else None
        value = whole.get((origin.topic, origin.partition, origin.offset)) if origin and is_cut(letter) else None
        if value is not None:
            details = {k: v for k, v in letter.details.items() if k != "original_cut"}
            stored = replace(stored, letter=replace(letter, origin=replace(origin, value=value), details=details))
        restored.append(stored)
    return restored


def earlier_redrives(view: KafkaView, found: Iterable[Stored]) -> tuple[dict[str, str], int]:
    """Dead-letter coordinate -> the input-topic message that re-drove it, found by reading the input
    partitions the dead letters came from, from the oldest dead letter's time on; and how many messages that
    read. Re-driven messages are written after their dead letter, so nothing earlier can be one."""
    since: dict[TP, float] = {}
    for stored in found:
        origin = stored.letter.origin if stored.letter else None
        if origin is None or origin.topic is None or origin.partition is None:
            continue
        tp = (origin.topic, origin.partition)
        since[tp] = min(since.get(tp, stored.letter.time), stored.letter.time)
    existing = set(view.partitions({t for t, _ in since}))
    since = {tp: when for tp, when in since.items() if tp in existing}
    marks = view.watermarks(since)
    ranges = {}
    for tp, when in since.items():
        found_at = view.offsets_for_time([tp], to_ms(from_ms(int(when * 1000)) - CLOCK_MARGIN))[tp].offset
        ranges[tp] = (marks[tp][1] if found_at < 0 else max(found_at, marks[tp][0]), marks[tp][1])
    done: dict[str, str] = {}
    scanned = 0
    for msg in view.read(ranges):
        scanned += 1
        for source in redrive.redriven_from(msg.headers()):
            done.setdefault(source, coordinate(msg.topic(), msg.partition(), msg.offset()))
    return done, scanned


def send(view: KafkaView, sends: list[Send]) -> int:
    """Produce every message (in its original partition when the topic still has it); raises SpiderError
    naming how many failed. Returns how many were delivered."""
    if not sends:
        return 0
    partitions = set(view.partitions({s.topic for s in sends}))
    largest = max(len(s.value) + len(s.key or b"") for s in sends)
    producer = kafka_clients.producer(
        view.kafka, (), options={"message.max.bytes": max(1_000_000, largest + 1_048_576)}
    )
    delivery = kafka_clients.Delivery()
    for item in sends:
        keep = item.partition is not None and (item.topic, item.partition) in partitions
        delivery.add()
        kafka_clients.produce(
            producer,
            item.topic,
            item.key,
            item.value,
            delivery.report,
            headers=item.marked_headers(),
            partition=item.partition if keep else None,
        )
    left = producer.flush(view.timeout_s * 4)
    if delivery.failed or left:
        raise SpiderError(
            f"re-drive incomplete: {delivery.failed} message(s) refused, {left} not confirmed, of {len(sends)} "
            f"(first error: {delivery.first_error or 'timeout'}); run it again: what was sent is recognised"
        )
    return len(sends)
