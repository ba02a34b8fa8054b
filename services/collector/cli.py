"""Commands of the collector area: `spider collector`, `spider checkpoint ...`, `spider topics create`."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import orjson
import typer

from services.collector import metrics
from services.collector.checkpoints import CheckpointStore, dump_reference, plan_import, read_reference
from services.collector.config import CollectorConfig
from services.collector.fromfile import SOURCES, publish_file
from services.collector.poller import HISTORY, QUEUE
from services.collector.service import Collector, make_publisher, pool_for, pools_of
from services.common import logs, observability
from services.common.ages import age
from services.common.cli_options import ConfigOption, WorkdirOption
from services.common.config import load_settings
from services.common.errors import ExitStatus
from services.common.shutdown import Stopping
from services.common.topic_admin import create_topics

log = logging.getLogger(__name__)

checkpoint_app = typer.Typer(help="History checkpoints kept in Kafka (one per schedd).", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics of the pipeline.", no_args_is_help=True)


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _config(config: Path | None, **cli: object) -> CollectorConfig:
    """The settings, the Kafka secret and TLS files checked: a wrong one is a configuration error at start."""
    settings = load_settings(CollectorConfig, config, **cli)
    settings.kafka.check()
    logs.setup("collector", settings.log_level, settings.log_format)
    return settings


def collector(
    config: ConfigOption = None,
    once: Annotated[bool, typer.Option("--once", help="One queue and one history cycle, then exit (cron)")] = False,
    from_file: Annotated[
        Path | None, typer.Option("--from-file", help="Publish the ads of this file instead of polling schedds")
    ] = None,
    pool: Annotated[str | None, typer.Option(help="--from-file: pool name stamped on the ads")] = None,
    schedd: Annotated[str | None, typer.Option(help="--from-file: schedd name stamped on the ads")] = None,
    source: Annotated[str, typer.Option(help="--from-file: queue or history; --once: queue, history or both")] = "",
    rate: Annotated[float | None, typer.Option(help="--from-file: publish at most this many ads/s")] = None,
    collectors: Annotated[
        str | None, typer.Option("--collectors", help="Legacy comma-separated collector hosts (no collectors.json)")
    ] = None,
    schedd_filter: Annotated[
        str | None, typer.Option(help="Comma-separated schedd names to poll (all if unset)")
    ] = None,
    pool_dir: Annotated[
        Path | None, typer.Option(help="Read the pool from ad files in this directory instead of HTCondor (demo)")
    ] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Poll HTCondor schedds (queue and history) into Kafka, or publish an ad file.

    Exit status: 0 all fine; 4 (partial) some schedd polls failed or some ads of the file were skipped;
    1 runtime failure, 2 usage error, 3 configuration error.
    """
    kinds = {"": (QUEUE, HISTORY), "both": (QUEUE, HISTORY), QUEUE: (QUEUE,), HISTORY: (HISTORY,)}
    if from_file is not None:
        kinds = {"": (HISTORY,), **{kind: (kind,) for kind in SOURCES}}
    if source not in kinds:
        raise typer.BadParameter(f"{source!r}: choose {' or '.join(filter(None, kinds))}", param_hint="'--source'")
    sources = kinds[source]
    settings = _config(
        config, workdir=workdir, collector_hosts=_split(collectors), schedd_include=_split(schedd_filter)
    )
    if from_file is None:
        pools_of(settings)  # collectors.json read once now: a broken one is a configuration error at start
    publisher = make_publisher(settings)
    stopping = Stopping(settings.stop_grace_s)
    try:
        if from_file is not None:
            result = publish_file(
                from_file, publisher, settings.kafka, pool=pool, schedd=schedd, source=sources[0], rate=rate
            )
            typer.echo(orjson.dumps(result.__dict__).decode())
            if result.failed:
                sys.exit(ExitStatus.FAILURE)
            if result.skipped:
                sys.exit(ExitStatus.PARTIAL)
            return
        service = Collector(settings, pool_for(settings, pool_dir), publisher)
        if once:
            results = service.run_once(sources)
            if settings.pushgateway_url:
                _push_metrics(settings.pushgateway_url)
            failed = [r for r in results if not r.ok]
            typer.echo(
                orjson.dumps(
                    {"schedd_polls": len(results), "failed": len(failed), "ads": sum(r.ads for r in results)}
                ).decode()
            )
            if failed:
                sys.exit(ExitStatus.PARTIAL)
            return
        stop = threading.Event()

        def on_signal(*_: object) -> None:
            stop.set()
            stopping.begin()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, on_signal)
        observability.serve(settings.metrics_port, lambda: True, service="collector")
        service.run_forever(stop)
    finally:
        publisher.close(stopping.remaining(default=30.0))


def _push_metrics(url: str) -> None:
    """A Pushgateway that cannot be reached costs the run's metrics only, never its ads: logged, not raised."""
    try:
        metrics.push(url)
    except OSError as exc:
        log.warning("cannot push metrics to the Pushgateway: %s", type(exc).__name__, extra={"pushgateway": url})


def _when(epoch: float, now: float) -> str:
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(epoch))}Z ({age(now - epoch)} ago)"


@checkpoint_app.command("show")
def checkpoint_show(config: ConfigOption = None) -> None:
    """Print every checkpoint with its age."""
    settings = _config(config)
    now = time.time()
    checkpoints = CheckpointStore(settings.kafka).load()
    if not checkpoints:
        typer.echo("no checkpoints yet (the collector writes one per schedd after its first history poll)")
    for name, value in sorted(checkpoints.items()):
        typer.echo(f"{name}\t{value}\t{_when(value, now)}")


@checkpoint_app.command("export")
def checkpoint_export(
    output: Annotated[Path, typer.Argument(help="checkpoint.json to write; - for stdout")] = Path("-"),
    config: ConfigOption = None,
) -> None:
    """Write the checkpoints in the reference's checkpoint.json format (backup)."""
    text = dump_reference(CheckpointStore(_config(config).kafka).load())
    if str(output) == "-":
        sys.stdout.buffer.write(text)
    else:
        output.write_bytes(text)


@checkpoint_app.command("import")
def checkpoint_import(
    path: Annotated[Path, typer.Argument(help="A reference checkpoint.json")],
    merge: Annotated[
        bool, typer.Option("--merge", help="Write the file's checkpoints; keep those of schedds it does not list")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Make the topic hold exactly the file's checkpoints (restore a backup)")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Apply the changes; without it only show them")] = False,
    config: ConfigOption = None,
) -> None:
    """Load a reference checkpoint.json into Kafka (migration, restore). Dry run (the changes) unless --yes."""
    if merge == replace:
        raise typer.BadParameter(
            "say how to treat schedds the file does not list: --merge keeps them, --replace removes them"
        )
    incoming = read_reference(path)
    store = CheckpointStore(_config(config).kafka)
    plan = plan_import(store.load(), incoming, replace=replace)
    now = time.time()
    for name, value in sorted(plan.added.items()):
        typer.echo(f"add     {name}\t{_when(value, now)}")
    for name, (old, new) in sorted(plan.changed.items()):
        typer.echo(f"change  {name}\t{_when(old, now)} -> {_when(new, now)}")
    for name, value in sorted(plan.removed.items()):
        typer.echo(f"remove  {name}\t{_when(value, now)}")
    summary = (
        f"{len(plan.added)} added, {len(plan.changed)} changed, {len(plan.removed)} removed, {plan.unchanged} unchanged"
    )
    if not yes:
        typer.echo(f"dry run: {summary}; nothing written (add --yes to apply)")
        return
    store.save(plan.writes, remove=plan.removed)
    typer.echo(f"imported: {summary}")


@checkpoint_app.command("set")
def checkpoint_set(
    schedd: Annotated[str, typer.Argument(help="Schedd name")],
    epoch: Annotated[float, typer.Argument(help="New checkpoint, epoch seconds")],
    config: ConfigOption = None,
) -> None:
    """Move one schedd's checkpoint (re-read or skip part of its history)."""
    CheckpointStore(_config(config).kafka).save({schedd: epoch})
    typer.echo(f"{schedd}: {epoch}")


@topics_app.command("create")
def topics_create(
    config: ConfigOption = None,
    partitions: Annotated[int | None, typer.Option(help="Partitions of every multi-partition topic")] = None,
    replication: Annotated[
        int | None, typer.Option(help="Replication factor (default: kafka.replication_factor)")
    ] = None,
    min_insync_replicas: Annotated[
        int | None, typer.Option(help="Topics' min.insync.replicas (default: kafka.min_insync_replicas)")
    ] = None,
) -> None:
    """Create every pipeline topic under the prefix; existing ones keep their settings, except the size limit."""
    settings = _config(config)
    created = create_topics(
        settings.kafka, partitions=partitions, replication=replication, min_insync_replicas=min_insync_replicas
    )
    for outcome in created:
        typer.echo(f"{outcome.name}\t{outcome.detail}")
