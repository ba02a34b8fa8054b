"""Typer commands of the operator tools: status, replay, purge (registered in services/cli.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console

from services.common.config import load_settings
from services.common.errors import SpiderError
from services.common.groups import GroupNames
from services.converter.config import ConverterConfig
from services.recovery import purge as purge_mod
from services.recovery import replay as replay_mod
from services.recovery import status as status_mod
from services.recovery.kafka_view import KafkaView
from services.recovery.timepoints import parse_time
from services.sinks.config import SinkConfig

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config file (also SPIDER_CONFIG)", show_default=False),
]


def _settings(config: Path | None) -> tuple[SinkConfig, GroupNames]:
    """Sink settings (Kafka, clusters, indices) and the group names of both the converter and the sinks."""
    settings = load_settings(SinkConfig, config)
    converter = load_settings(ConverterConfig, config)
    return settings, GroupNames(settings.kafka, converter.group_id, settings.consumer_group_prefix)


def status(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Lag of every consumer group of the pipeline per partition, and the age of each schedd's checkpoint."""
    settings, names = _settings(config)
    view = KafkaView(settings.kafka)
    groups = [status_mod.group_status(view, names, g) for g in status_mod.pipeline_groups(view, names)]
    now = datetime.now(UTC)
    result = status_mod.Status(groups, *status_mod.checkpoints(settings.kafka, now))
    if as_json:
        typer.echo(orjson.dumps(status_mod.to_json(result), option=orjson.OPT_INDENT_2).decode())
    else:
        status_mod.render(result, now, Console(width=200))


def replay(
    group: Annotated[str, typer.Argument(help="Consumer group id (see `spider status`)")],
    to_time: Annotated[str | None, typer.Option(help="ISO-8601 time or epoch seconds")] = None,
    to_offsets: Annotated[str | None, typer.Option(help="topic:partition:offset,...")] = None,
    to_earliest: Annotated[bool, typer.Option(help="Oldest message kept")] = False,
    to_latest: Annotated[bool, typer.Option(help="End of the log (skip everything unread)")] = False,
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
        raise SpiderError("give exactly one of --to-time, --to-offsets, --to-earliest, --to-latest")
    if to_time is not None:
        target = replay_mod.Target("time", time=parse_time(to_time))
    elif to_offsets is not None:
        target = replay_mod.Target("offsets", offsets=replay_mod.parse_offsets(to_offsets))
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
    git_hash: Annotated[str, typer.Option("--git-hash", help="spider_git_hash of the bad release")],
    since: Annotated[str | None, typer.Option(help="Only documents with RecordTime >= this time")] = None,
    cluster: Annotated[str | None, typer.Option(help="Only this cluster of es_conf.json (its name)")] = None,
    index: Annotated[str | None, typer.Option(help="Index pattern; default from the sinks' index templates")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Delete; without it, only count")] = False,
    config: ConfigOption = None,
) -> None:
    """Delete the documents of a bad release from ES/OpenSearch by git hash. Dry run (counts) unless --yes."""
    settings, _ = _settings(config)
    pattern = index or default_index_pattern(settings)
    when = parse_time(since) if since else None
    selector = purge_mod.query(git_hash, when)
    console = Console(width=200)
    for target in purge_mod.select(settings.es_clusters(), cluster):
        result = purge_mod.delete(target, pattern, selector) if yes else purge_mod.count(target, pattern, selector)
        console.print(f"cluster {result.cluster} ({target.url}), indices {pattern}: {result.total} document(s)")
        for name, n in sorted(result.counts.items()):
            console.print(f"  {name}: {n}")
        if result.deleted is not None:
            console.print(f"  deleted: {result.deleted}")
    if not yes:
        console.print("Dry run: nothing deleted. Add --yes to delete.")
    console.print(purge_mod.monit_request(git_hash, when), highlight=False, markup=False)


def default_index_pattern(settings: SinkConfig) -> str:
    """The sinks' daily indices: <index_template>-* (and <queue_index_template>-* when queue docs go apart)."""
    templates = [settings.index_template, settings.queue_index_template]
    return ",".join(f"{t}-*" for t in templates if t)
