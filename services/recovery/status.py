"""`spider status`: how far behind each consumer group is, how many dead letters each dead-letter topic holds,
and how old each schedd's history checkpoint is.

Lag is counted from what a consumer of the group would read next: the committed offset, or the earliest
offset kept when the group never committed on that partition or retention already removed the committed
position (then `lost` says how many unread messages retention took).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from rich.console import Console
from rich.table import Table

from services.collector.checkpoints import CheckpointStore
from services.common import purged_releases
from services.common.ages import age
from services.common.compacted import CompactedTopicError
from services.common.config import KafkaSettings
from services.common.groups import GroupNames
from services.common.purged_releases import PurgedRelease
from services.recovery.kafka_view import TP, KafkaView
from services.recovery.timepoints import from_ms, iso, to_ms


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None
    end: int
    lag: int
    lost: int
    oldest_unconsumed: datetime | None


@dataclass(frozen=True)
class GroupStatus:
    group: str
    role: str
    members: list[str]
    partitions: list[PartitionLag]

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)


@dataclass(frozen=True)
class ScheddCheckpoint:
    schedd: str
    checkpoint: datetime
    age_s: float


@dataclass(frozen=True)
class DeadLetterCount:
    """Records a dead-letter topic keeps (retention removes older ones), and how many arrived since a time."""

    topic: str
    total: int
    since: datetime
    new: int


@dataclass(frozen=True)
class Status:
    groups: list[GroupStatus]
    checkpoints: list[ScheddCheckpoint] = field(default_factory=list)
    checkpoint_problem: str | None = None
    dead_letters: list[DeadLetterCount] = field(default_factory=list)
    purged: list[PurgedRelease] = field(default_factory=list)


def partition_lags(view: KafkaView, committed: dict[TP, int], tps: list[TP]) -> list[PartitionLag]:
    marks = view.watermarks(tps)
    next_read = {tp: max(committed.get(tp, low), low) for tp, (low, _end) in marks.items()}
    unread = {tp: pos for tp, pos in next_read.items() if pos < marks[tp][1]}
    stamps = view.timestamps_at(unread)
    rows = []
    for tp in tps:
        low, end = marks[tp]
        position = committed.get(tp)
        rows.append(
            PartitionLag(
                topic=tp[0],
                partition=tp[1],
                committed=position,
                end=end,
                lag=end - next_read[tp],
                lost=max(low - position, 0) if position is not None else 0,
                oldest_unconsumed=from_ms(stamps[tp]) if tp in stamps else None,
            )
        )
    return rows


def group_status(view: KafkaView, names: GroupNames, group: str) -> GroupStatus:
    committed = view.committed(group)
    tps = view.partitions(sorted({t for t, _ in committed} | set(names.input_topics(group))))
    return GroupStatus(
        group=group,
        role=names.role(group) or "other",
        members=[str(m) for m in view.members(group)],
        partitions=partition_lags(view, committed, tps),
    )


def dead_letter_counts(view: KafkaView, topics: list[str], since: datetime) -> list[DeadLetterCount]:
    """From offsets alone (no record is read): kept = end - earliest, new = end - first offset at `since`."""
    tps = view.partitions(topics)
    marks = view.watermarks(tps)
    found = view.offsets_for_time(tps, to_ms(since))
    counts = []
    for topic in topics:
        mine = [tp for tp in tps if tp[0] == topic]
        if not mine:
            continue
        total = sum(marks[tp][1] - marks[tp][0] for tp in mine)
        new = sum(marks[tp][1] - max(found[tp].offset, marks[tp][0]) for tp in mine if found[tp].offset >= 0)
        counts.append(DeadLetterCount(topic, total, since, new))
    return counts


def checkpoints(kafka: KafkaSettings, now: datetime) -> tuple[list[ScheddCheckpoint], str | None]:
    """Per-schedd checkpoints from the collector's compacted topic, oldest first (the ones to worry about)."""
    try:
        found = CheckpointStore(kafka).load()
    except CompactedTopicError as exc:
        return [], str(exc)
    rows = [ScheddCheckpoint(name, from_ms(int(ts * 1000)), now.timestamp() - ts) for name, ts in found.items()]
    return sorted(rows, key=lambda c: c.checkpoint), None


def purged(kafka: KafkaSettings) -> list[PurgedRelease]:
    """The purged releases, or none where the topic is missing (an older deployment: `spider topics create`)."""
    try:
        return purged_releases.releases(kafka)
    except CompactedTopicError:
        return []


def pipeline_groups(view: KafkaView, names: GroupNames) -> list[str]:
    return [g for g in view.groups() if names.role(g) is not None]


def to_json(status: Status) -> dict:
    def plain(value):
        if isinstance(value, datetime):
            return iso(value)
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    groups = [{**plain(asdict(g)), "lag": g.lag} for g in status.groups]
    return {
        "groups": groups,
        "checkpoints": plain([asdict(c) for c in status.checkpoints]),
        "checkpoint_problem": status.checkpoint_problem,
        "dead_letters": plain([asdict(d) for d in status.dead_letters]),
        "purged_releases": [asdict(r) for r in status.purged],
    }


def render(status: Status, now: datetime, console: Console) -> None:
    if not status.groups:
        console.print("No consumer group of the pipeline found (has the converter or a sink ever run?).")
    for group in status.groups:
        who = ", ".join(group.members) if group.members else "no active member"
        table = Table(title=f"{group.group} ({group.role}) — lag {group.lag} — {who}", title_justify="left")
        for column in ("topic", "partition", "committed", "end", "lag", "oldest unconsumed", "waiting"):
            table.add_column(column, justify="left" if column in ("topic", "oldest unconsumed") else "right")
        for p in group.partitions:
            committed = "none" if p.committed is None else str(p.committed)
            lag = f"{p.lag} ({p.lost} lost to retention)" if p.lost else str(p.lag)
            oldest = iso(p.oldest_unconsumed) or "-"
            waiting = age((now - p.oldest_unconsumed).total_seconds()) if p.oldest_unconsumed else "-"
            table.add_row(p.topic, str(p.partition), committed, str(p.end), lag, oldest, waiting)
        console.print(table)
    if status.dead_letters:
        table = Table(title="Dead letters (details: spider dlq count)", title_justify="left")
        for column in ("topic", "kept", f"new since {iso(status.dead_letters[0].since)}"):
            table.add_column(column, justify="left" if column == "topic" else "right")
        for d in status.dead_letters:
            table.add_row(d.topic, str(d.total), str(d.new))
        console.print(table)
    if status.checkpoint_problem:
        console.print(f"History checkpoints: {status.checkpoint_problem}")
    elif not status.checkpoints:
        console.print("History checkpoints: none yet.")
    else:
        table = Table(title="History checkpoints", title_justify="left")
        for column in ("schedd", "checkpoint", "age"):
            table.add_column(column)
        for c in status.checkpoints:
            table.add_row(c.schedd, iso(c.checkpoint), age(c.age_s))
        console.print(table)
    if status.purged:
        render_purged(status.purged, console)


def render_purged(found: list[PurgedRelease], console: Console) -> None:
    if not found:
        console.print("No purged release recorded: the sinks skip nothing.")
        return
    table = Table(title="Purged releases (the sinks skip their documents)", title_justify="left")
    for column in ("git hash", "purged at", "by", "skipped so far"):
        table.add_column(column)
    for r in found:
        skipped = ", ".join(f"{target}: {n}" for target, n in sorted(r.skipped.items())) or "none"
        table.add_row(r.git_hash, iso(from_ms(int(r.purged_at * 1000))), r.by, skipped)
    console.print(table)
