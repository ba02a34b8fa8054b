"""Typer commands of the operator tools: status, replay, purge, dlq (registered in services/cli.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from services.common import purged_releases
from services.common.cli_options import ConfigOption, option_parser
from services.common.config import load_settings
from services.common.errors import SpiderError
from services.common.groups import GroupNames
from services.common.topics import DLQ_CONVERTER
from services.converter.config import ConverterConfig
from services.recovery import dlq as dlq_mod
from services.recovery import purge as purge_mod
from services.recovery import replay as replay_mod
from services.recovery import status as status_mod
from services.recovery.kafka_view import TP, KafkaView
from services.recovery.replay import Coordinates
from services.recovery.timepoints import parse_time
from services.sinks.config import SinkConfig


def time_option(help_text: str) -> typer.models.OptionInfo:
    """An option holding a point in time; a value that is not one is a usage error naming the option."""
    return typer.Option(
        parser=option_parser(parse_time),
        metavar="TIME",
        help=f"{help_text}; ISO-8601 (UTC if no zone) or epoch seconds",
    )


COORDINATES = "TOPIC:PARTITION:OFFSET,..."
read_coordinates = option_parser(replay_mod.parse_coordinates)


def _settings(config: Path | None) -> tuple[SinkConfig, GroupNames]:
    """Sink settings (Kafka, clusters, indices) and the group names of both the converter and the sinks; the
    Kafka secret and TLS files are checked here, so a wrong one is a configuration error before any connection."""
    settings = load_settings(SinkConfig, config)
    converter = load_settings(ConverterConfig, config)
    settings.kafka.check()
    return settings, GroupNames(settings.kafka, converter.group_id, settings.consumer_group_prefix)


def dead_letter_topics(settings: SinkConfig) -> dict[str, str]:
    """Short name (converter, sinks) -> full name of each dead-letter topic."""
    return {"converter": settings.kafka.topic(DLQ_CONVERTER), "sinks": settings.kafka.topic(settings.dlq_topic)}


def status(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    dead_letters_since: Annotated[
        datetime | None, time_option("Count dead letters new since this time, by default 24 hours ago")
    ] = None,
) -> None:
    """Lag of every consumer group, dead letters, and the age of each schedd's checkpoint.

    Per consumer group of the pipeline and partition: the committed and end offsets, the lag and the age of the
    oldest message not yet consumed; per dead-letter topic the dead letters kept and the new ones; per schedd
    its history checkpoint."""
    settings, names = _settings(config)
    view = KafkaView(settings.kafka)
    groups = [status_mod.group_status(view, names, g) for g in status_mod.pipeline_groups(view, names)]
    now = datetime.now(UTC)
    since = dead_letters_since or now - timedelta(hours=24)
    letters = status_mod.dead_letter_counts(view, list(dead_letter_topics(settings).values()), since)
    result = status_mod.Status(
        groups,
        *status_mod.checkpoints(settings.kafka, now),
        dead_letters=letters,
        purged=status_mod.purged(settings.kafka),
    )
    if as_json:
        typer.echo(orjson.dumps(status_mod.to_json(result), option=orjson.OPT_INDENT_2).decode())
    else:
        status_mod.render(result, now, Console(width=200))


def replay(
    group: Annotated[str, typer.Argument(help="Consumer group id (see `spider status`)")],
    to_time: Annotated[datetime | None, time_option("The first message at or after this time")] = None,
    to_offsets: Annotated[
        dict[TP, int] | None,
        typer.Option(parser=option_parser(replay_mod.parse_offsets), metavar=COORDINATES, help="Exactly these offsets"),
    ] = None,
    to_earliest: Annotated[bool, typer.Option("--to-earliest", help="The oldest message kept")] = False,
    to_latest: Annotated[bool, typer.Option("--to-latest", help="The end of the log (skip everything unread)")] = False,
    topic: Annotated[
        str | None, typer.Option(help="Only this topic (e.g. raw.history); all the group's if unset")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Apply; without it, only show what would move")] = False,
    config: ConfigOption = None,
) -> None:
    """Move a stopped consumer group back or forward. Dry run unless --yes."""
    chosen = [
        flag
        for flag, on in (
            ("--to-time", to_time),
            ("--to-offsets", to_offsets),
            ("--to-earliest", to_earliest),
            ("--to-latest", to_latest),
        )
        if on
    ]
    if len(chosen) != 1:
        raise typer.BadParameter(
            f"give exactly one (got {', '.join(chosen) or 'none'})",
            param_hint=["--to-time", "--to-offsets", "--to-earliest", "--to-latest"],
        )
    if to_time is not None:
        target = replay_mod.Target("time", time=to_time)
    elif to_offsets is not None:
        target = replay_mod.Target("offsets", offsets=to_offsets)
    else:
        target = replay_mod.Target("earliest" if to_earliest else "latest")
    settings, names = _settings(config)
    view = KafkaView(settings.kafka)
    replay_mod.ensure_stopped(view, group)
    moves = replay_mod.plan(view, names, group, target, topic)
    if yes:
        replay_mod.apply(view, group, moves)
    replay_mod.render(group, moves, applied=yes, console=Console(width=200))


def purge(
    git_hash: Annotated[str | None, typer.Option("--git-hash", help="spider_git_hash of the bad release")] = None,
    since: Annotated[datetime | None, time_option("Only documents with RecordTime at or after this time")] = None,
    cluster: Annotated[str | None, typer.Option(help="Only this cluster of es_conf.json (its name)")] = None,
    index: Annotated[str | None, typer.Option(help="Index pattern; default from the sinks' index templates")] = None,
    listing: Annotated[
        bool, typer.Option("--list", help="Show the purged releases the sinks skip, and how much they skipped")
    ] = False,
    release: Annotated[
        str | None, typer.Option(help="Let the sinks index this purged release again (with --yes)")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Delete (or release); without it, only count")] = False,
    config: ConfigOption = None,
) -> None:
    """Delete the documents of a bad release from ES/OpenSearch, and make every sink skip it from then on.

    The documents are those whose metadata.spider_git_hash is the release's; once it is purged, no replay indexes
    the release again. Dry run (counts) unless --yes."""
    if sum((git_hash is not None, listing, release is not None)) != 1:
        raise typer.BadParameter("give exactly one", param_hint=["--git-hash", "--list", "--release"])
    settings, _ = _settings(config)
    console = Console(width=200)
    if listing:
        status_mod.render_purged(purged_releases.releases(settings.kafka), console)
        return
    if release is not None:
        if not yes:
            console.print(f"Dry run: the sinks would index documents of {release} again. Add --yes to release it.")
        elif purged_releases.release(settings.kafka, release):
            console.print(f"Released {release}: the sinks index its documents again from now on.")
        else:
            raise SpiderError(f"{release} is not a purged release (see `spider purge --list`)")
        return
    assert git_hash is not None
    targets = purge_mod.select(settings.es_clusters(), cluster)  # es_conf.json read before anything is recorded
    pattern = index or default_index_pattern(settings)
    selector = purge_mod.query(git_hash, since)
    if yes:
        # Recorded before anything is deleted: from here on no sink indexes this release again.
        purged_releases.record(settings.kafka, git_hash)
        console.print(f"Recorded {git_hash} as purged: every sink skips its documents from now on.")
    for target in targets:
        result = purge_mod.delete(target, pattern, selector) if yes else purge_mod.count(target, pattern, selector)
        console.print(f"cluster {result.cluster} ({target.url}), indices {pattern}: {result.total} document(s)")
        for name, n in sorted(result.counts.items()):
            console.print(f"  {name}: {n}")
        if result.deleted is not None:
            console.print(f"  deleted: {result.deleted}")
    if not yes:
        console.print("Dry run: nothing deleted, nothing recorded. Add --yes to delete.")
    console.print(purge_mod.monit_request(git_hash, since), highlight=False, markup=False)


def default_index_pattern(settings: SinkConfig) -> str:
    """The sinks' daily indices: <index_template>-* (and <queue_index_template>-* when queue docs go apart)."""
    templates = [settings.index_template, settings.queue_index_template]
    return ",".join(f"{t}-*" for t in templates if t)


dlq_app = typer.Typer(
    help="Count, show and re-drive the dead letters of dlq.converter and dlq.sinks.", no_args_is_help=True
)
TopicOption = Annotated[
    list[str] | None,
    typer.Option("--topic", help="converter or sinks (or the topic's name); both if unset", show_default=False),
]
ReasonOption = Annotated[
    list[str] | None, typer.Option("--reason", help="Reason contains this text, any case (repeatable)")
]
ClassOption = Annotated[
    list[str] | None,
    typer.Option("--class", help="Reason class as `spider dlq count` shows it, e.g. mapper_parsing_exception"),
]
TargetOption = Annotated[list[str] | None, typer.Option("--target", help="Sink target that refused, e.g. es-cms")]
IdOption = Annotated[list[str] | None, typer.Option("--id", help="Document id or GlobalJobId (repeatable)")]
AtOption = Annotated[
    Coordinates | None,
    typer.Option(
        "--at", parser=read_coordinates, metavar=COORDINATES, help="Dead letters, or the messages they hold, here"
    ),
]
SinceOption = Annotated[datetime | None, time_option("Dead letters written at or after this time")]
UntilOption = Annotated[datetime | None, time_option("Dead letters written before this time")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output")]


def _dlq_topics(settings: SinkConfig, chosen: list[str] | None) -> list[str]:
    known = dead_letter_topics(settings)
    if not chosen:
        return list(known.values())
    by_name = {**known, **{v: v for v in known.values()}, **{f"dlq.{k}": v for k, v in known.items()}}
    unknown = [c for c in chosen if c not in by_name]
    if unknown:
        raise typer.BadParameter(f"{unknown[0]!r}: choose converter or sinks", param_hint="'--topic'")
    return sorted({by_name[c] for c in chosen})


def _selection(
    names: GroupNames,
    reason: list[str] | None,
    klass: list[str] | None,
    target: list[str] | None,
    ids: list[str] | None,
    at: Coordinates | None,
    since: datetime | None,
    until: datetime | None,
) -> dlq_mod.Selection:
    if since and until and since >= until:
        raise typer.BadParameter("must be before --until", param_hint="'--since'")
    return dlq_mod.Selection(
        reasons=tuple(reason or ()),
        classes=tuple(klass or ()),
        targets=tuple(target or ()),
        ids=tuple(ids or ()),
        at=frozenset((replay_mod.full_topic(names, t), p, o) for t, p, o in at or ()),
        since=since,
        until=until,
    )


@dlq_app.command("count")
def dlq_count(
    topic: TopicOption = None,
    reason: ReasonOption = None,
    klass: ClassOption = None,
    target: TargetOption = None,
    ids: IdOption = None,
    at: AtOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Dead letters per topic, stage and reason class, with the time range they cover and one sample reason."""
    settings, names = _settings(config)
    topics = _dlq_topics(settings, topic)
    selection = _selection(names, reason, klass, target, ids, at, since, until)
    view = KafkaView(settings.kafka)
    summary = dlq_mod.summarize(topics, dlq_mod.read(view, topics, selection))
    as_dict = dlq_mod.summary_json(summary, {t for t, _ in view.partitions(topics)})
    if as_json:
        typer.echo(orjson.dumps(as_dict, option=orjson.OPT_INDENT_2).decode())
        return
    console = Console(width=200)
    for name, found in as_dict["topics"].items():
        if not found["total"]:
            console.print(f"{name}: {'no dead letter' if found['exists'] else 'topic does not exist'}", markup=False)
            continue
        span = f", {found['first']} .. {found['last']}" if found["first"] else ""
        table = Table(title=f"{name}: {found['total']} dead letter(s){span}", title_justify="left")
        for column in ("stage", "reason class", "count", "first", "last", "from re-drives", "sample reason"):
            table.add_column(column, justify="right" if column in ("count", "from re-drives") else "left")
        for g in found["groups"]:
            cells = (g["stage"], g["reason_class"], g["count"], g["first"], g["last"], g["from_redrive"], g["sample"])
            table.add_row(*(Text(str(c)) for c in cells))
        if found["unreadable"]:
            table.add_row(Text("?"), Text("unreadable record"), Text(str(found["unreadable"])))
        console.print(table)


@dlq_app.command("show")
def dlq_show(
    where: Annotated[
        Coordinates | None,
        typer.Argument(
            parser=read_coordinates,
            metavar="TOPIC:PARTITION:OFFSET",
            help="A dead letter, or the message it holds, at this place",
            show_default=False,
        ),
    ] = None,
    topic: TopicOption = None,
    reason: ReasonOption = None,
    klass: ClassOption = None,
    target: TargetOption = None,
    ids: IdOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    config: ConfigOption = None,
) -> None:
    """One dead letter in full, the original message decoded (JSON), secret-looking values masked.

    The one at TOPIC:PARTITION:OFFSET, else the first matching the filters."""
    settings, names = _settings(config)
    topics = _dlq_topics(settings, topic)
    selection = _selection(names, reason, klass, target, ids, where, since, until)
    found = next(dlq_mod.read(KafkaView(settings.kafka), topics, selection), None)
    if found is None:
        at = ",".join(f"{t}:{p}:{o}" for t, p, o in where or ())
        raise SpiderError(f"no dead letter matches {at or 'the filters'}")
    typer.echo(orjson.dumps(dlq_mod.describe(found), option=orjson.OPT_INDENT_2).decode())


@dlq_app.command("redrive")
def dlq_redrive(
    topic: TopicOption = None,
    reason: ReasonOption = None,
    klass: ClassOption = None,
    target: TargetOption = None,
    ids: IdOption = None,
    at: AtOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    again: Annotated[bool, typer.Option("--again", help="Also send dead letters an earlier re-drive sent")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Send; without it, only show the plan")] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Send the selected dead letters back into the topic they came from, once the cause is fixed.

    Dry run unless --yes. Sink dead letters carry the targets that refused them: the other sinks skip them."""
    settings, names = _settings(config)
    topics = _dlq_topics(settings, topic)
    selection = _selection(names, reason, klass, target, ids, at, since, until)
    view = KafkaView(settings.kafka)
    found = dlq_mod.restore_cut(view, list(dlq_mod.read(view, topics, selection)))
    redriven, scanned = ({}, 0) if again else dlq_mod.earlier_redrives(view, found)
    inputs = {"converter": names.input_topics(names.converter), "sink": names.input_topics(names.sink("any"))}
    result = dlq_mod.plan(found, inputs, redriven, again=again)
    groups = set(view.groups())
    missing = sorted({t for s in result.sends for t in s.targets if names.sink(t) not in groups})
    sent = dlq_mod.send(view, result.sends) if yes else None
    report = {
        "selected": len(found),
        "sends": [{"topic": t, "targets": targets, "messages": n} for t, targets, n in result.rows()],
        "already_redriven": result.already,
        "superseded": result.superseded,
        "unusable": result.unusable,
        "checked_for_earlier_redrives": scanned,
        "targets_without_group": [names.sink(t) for t in missing],
        "sent": sent,
    }
    if as_json:
        typer.echo(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    else:
        render_redrive(report, Console(width=200, highlight=False))


def render_redrive(report: dict, console: Console) -> None:
    console.print(f"{report['selected']} dead letter(s) selected.", markup=False)
    if report["sends"]:
        table = Table(title=f"{sum(r['messages'] for r in report['sends'])} message(s) to send", title_justify="left")
        for column in ("into topic", "for targets", "messages"):
            table.add_column(column, justify="right" if column == "messages" else "left")
        for row in report["sends"]:
            table.add_row(Text(row["topic"]), Text(row["targets"]), str(row["messages"]))
        console.print(table)
    else:
        console.print("Nothing to send.")
    if report["already_redriven"]:
        console.print(
            f"{len(report['already_redriven'])} already re-driven (found among "
            f"{report['checked_for_earlier_redrives']} message(s) of the input topics), left out; --again sends "
            "them again (harmless for the search clusters, whose document ids make it an overwrite):",
            markup=False,
        )
        for letter, where in sorted(report["already_redriven"].items())[:10]:
            console.print(f"  {letter} -> {where}", markup=False)
    if report["superseded"]:
        console.print(
            f"{len(report['superseded'])} left out: a newer dead letter of the same document and target is sent.",
            markup=False,
        )
    for letter, why in sorted(report["unusable"].items()):
        console.print(f"cannot re-drive {letter}: {why}", markup=False)
    for group in report["targets_without_group"]:
        console.print(
            f"warning: no consumer group {group}: no sink of that target ran with this configuration, "
            "so nothing will write what is re-driven for it",
            markup=False,
        )
    if report["sent"] is None:
        console.print("Dry run: nothing sent. Add --yes to send.", markup=False)
    else:
        console.print(f"Sent {report['sent']} message(s).", markup=False)
