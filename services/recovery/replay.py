"""`spider replay`: move a stopped consumer group to a point in time or to explicit offsets.

Replaying the raw topics through a fixed converter (or the document topics through a sink) is how spider
recovers from bad releases and outages: Kafka keeps the messages for the retention period, so moving the
group's committed offsets back makes the service read them again when it starts. Offsets are only moved
while the group has no member: a running consumer would overwrite them with its own next commit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from rich.console import Console
from rich.table import Table

from services.common.errors import ExitStatus, SpiderError
from services.common.groups import GroupNames
from services.recovery.kafka_view import TP, KafkaView
from services.recovery.timepoints import from_ms, iso, to_ms


class GroupActive(SpiderError):
    """The group still has members; its offsets cannot be moved under them."""

    exit_code = ExitStatus.REFUSED


@dataclass(frozen=True)
class Target:
    """Where to move: a time, explicit offsets, or one end of the log."""

    kind: Literal["time", "offsets", "earliest", "latest"]
    time: datetime | None = None
    offsets: dict[TP, int] | None = None


@dataclass(frozen=True)
class Move:
    topic: str
    partition: int
    current: int | None
    target: int
    note: str = ""
    # A partition the group never committed, reached only because the whole group was asked for: moving it would
    # replace the group's reset policy there, so it is shown but left alone unless its topic is named.
    left_alone: bool = False

    @property
    def delta(self) -> int | None:
        """Messages skipped (positive) or read again (negative); None when the group had no offset."""
        return None if self.current is None else self.target - self.current


class Coordinates(tuple[tuple[str, int, int], ...]):
    """(topic, partition, offset) places in the order an operator gave them (a type of its own, so that help
    texts name it)."""


def parse_coordinates(text: str) -> Coordinates:
    """`topic:partition:offset,...` (topic names cannot contain ':'); ValueError says what is wrong."""
    found = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        parts = item.rsplit(":", 2)
        try:
            topic, partition, offset = parts[0], int(parts[1]), int(parts[2])
        except (IndexError, ValueError):
            topic, partition, offset = "", -1, -1
        if not topic or partition < 0 or offset < 0:
            raise ValueError(f"cannot read {item!r}: expected topic:partition:offset")
        found.append((topic, partition, offset))
    if not found:
        raise ValueError("expected at least one topic:partition:offset")
    return Coordinates(found)


def parse_offsets(text: str) -> dict[TP, int]:
    """`topic:partition:offset,...` -> the offset per partition (the last one given wins)."""
    return {(topic, partition): offset for topic, partition, offset in parse_coordinates(text)}


def full_topic(names: GroupNames, topic: str) -> str:
    """Accept `raw.queue` as well as `spider.raw.queue`."""
    return topic if topic.startswith(names.kafka.topic_prefix) else names.kafka.topic(topic)


def ensure_stopped(view: KafkaView, group: str) -> None:
    members = view.members(group)
    if members:
        who = "; ".join(str(m) for m in members)
        raise GroupActive(
            f"consumer group {group} has {len(members)} active member(s): {who}. Stop them before moving its "
            "offsets: scale the deployment to 0 (kubectl scale deployment/<name> --replicas=0, or "
            "docker compose stop <service>) or stop the process (Ctrl-C / systemctl stop). Check with "
            "`spider status` that the group has no active member (a killed consumer leaves after its session "
            "timeout), then run the replay again."
        )


def _time_moves(view: KafkaView, committed: dict[TP, int], tps: list[TP], when: datetime) -> list[Move]:
    marks = view.watermarks(tps)
    found = view.offsets_for_time(tps, to_ms(when))
    moves = []
    for tp in tps:
        low, end = marks[tp]
        hit = found[tp]
        if hit.offset < 0:
            target, note = end, f"no message at or after {iso(when)}: resolved to the end"
        elif hit.offset == low and hit.timestamp_ms > to_ms(when):
            removed = f"; offsets below {low} were removed by retention" if low > 0 else ""
            note = (
                f"{iso(when)} is before the oldest message kept ({iso(from_ms(hit.timestamp_ms))}): "
                f"resolved to the earliest offset {low}{removed}"
            )
            target = low
        else:
            target, note = hit.offset, ""
        moves.append(Move(tp[0], tp[1], committed.get(tp), target, note))
    return moves


def _explicit_moves(view: KafkaView, committed: dict[TP, int], wanted: dict[TP, int]) -> list[Move]:
    existing = set(view.partitions({t for t, _ in wanted}))
    unknown = sorted(set(wanted) - existing)
    if unknown:
        raise SpiderError("no such partition: " + ", ".join(f"{t}:{p}" for t, p in unknown))
    marks = view.watermarks(sorted(wanted))
    moves = []
    for tp, offset in sorted(wanted.items()):
        low, end = marks[tp]
        target = min(max(offset, low), end)
        note = ""
        if offset > end:
            note = f"offset {offset} is past the end: resolved to the end {end}"
        elif offset < low:
            note = f"offset {offset} was removed by retention: resolved to the earliest offset {low}"
        moves.append(Move(tp[0], tp[1], committed.get(tp), target, note))
    return moves


def plan(view: KafkaView, names: GroupNames, group: str, target: Target, topic: str | None = None) -> list[Move]:
    """What a replay would do, per partition; reads only."""
    committed = view.committed(group)
    if target.kind == "offsets":
        wanted = {(full_topic(names, t), p): o for (t, p), o in (target.offsets or {}).items()}
        if topic is not None:
            wanted = {tp: o for tp, o in wanted.items() if tp[0] == full_topic(names, topic)}
        return _explicit_moves(view, committed, wanted)
    if topic is not None:
        topics = [full_topic(names, topic)]
    else:
        topics = sorted({t for t, _ in committed} | set(names.input_topics(group)))
    tps = view.partitions(topics)
    if not tps:
        raise SpiderError(f"group {group}: none of its topics exist ({', '.join(topics) or 'no topic known'})")
    if target.kind == "time":
        assert target.time is not None
        moves = _time_moves(view, committed, tps, target.time)
    else:
        marks = view.watermarks(tps)
        side = 0 if target.kind == "earliest" else 1
        moves = [Move(t, p, committed.get((t, p)), marks[(t, p)][side]) for t, p in tps]
    if topic is not None:
        return moves
    return [
        dataclasses.replace(
            m,
            left_alone=True,
            note=f"never committed: left alone (name the topic with --topic {m.topic} to set it)",
        )
        if m.current is None
        else m
        for m in moves
    ]


def apply(view: KafkaView, group: str, moves: list[Move]) -> None:
    ensure_stopped(view, group)
    view.commit(group, {(m.topic, m.partition): m.target for m in moves if not m.left_alone})


def render(group: str, moves: list[Move], applied: bool, console: Console) -> None:
    table = Table(title=f"replay of {group}", title_justify="left")
    for column in ("topic", "partition", "committed", "new offset", "moves by"):
        table.add_column(column, justify="right" if column in ("partition", "committed", "new offset") else "left")
    for m in moves:
        if m.left_alone:
            by = "left alone"
        elif m.delta is None:
            by = "(no committed offset)"
        elif m.delta == 0:
            by = "unchanged"
        else:
            by = f"+{m.delta} (skips)" if m.delta > 0 else f"{m.delta} (re-reads {-m.delta})"
        current = "none" if m.current is None else str(m.current)
        new = "-" if m.left_alone else str(m.target)
        table.add_row(m.topic, str(m.partition), current, new, by)
    console.print(table)
    # Notes go below the table, whole: in a column they wrap into fragments.
    for m in moves:
        if m.note:
            console.print(f"{m.topic}:{m.partition}: {m.note}", soft_wrap=True)
    rereads = sum(-m.delta for m in moves if m.delta is not None and m.delta < 0)
    if applied:
        console.print(f"Applied: {group} will re-read {rereads} message(s) when it starts again.")
    else:
        console.print(f"Dry run: nothing changed ({rereads} message(s) would be re-read). Add --yes to apply.")
