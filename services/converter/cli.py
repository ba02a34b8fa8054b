"""`spider converter` (the service) and `spider convert` (the offline tool); registered in services/cli.py.

The conversion and faust are imported inside the commands so that `spider --help` and the other commands
stay fast.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from services.common.cli_options import ConfigOption, option_parser
from services.common.config import load_settings
from services.converter.config import ConverterConfig

SOURCES = {"history": "condor_history", "queue": "condor_queue", "file": "file"}


def converter(
    config: ConfigOption = None,
    group_id: Annotated[str | None, typer.Option(help="Consumer group shared by the workers")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Agent instances in this worker")] = None,
    metrics_port: Annotated[int | None, typer.Option(help="Port of /metrics, /healthz, /readyz")] = None,
) -> None:
    """Run a converter worker: raw ads from Kafka -> documents to Kafka (stop with SIGTERM/Ctrl-C)."""
    from services.converter import service

    cfg = load_settings(ConverterConfig, config, group_id=group_id, concurrency=concurrency, metrics_port=metrics_port)
    cfg.kafka.check()  # the Kafka secret and TLS files: a wrong one is a configuration error before connecting
    service.run(cfg, _affiliations(cfg))


def _affiliations(cfg: ConverterConfig) -> Callable[[], Mapping[str, Any] | None]:
    """The affiliation directory as currently on disk (re-read when the file changes)."""
    from services.converter.affiliations import AffiliationCache

    return AffiliationCache(cfg.resolve(cfg.affiliation_file)).get


def _collection_time(text: str) -> float:
    """Epoch seconds or ISO 8601 with a zone -> epoch seconds; ValueError says what is wrong."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither epoch seconds nor an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no timezone (add Z or +00:00)")
    return moment.timestamp()


def convert(
    path: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="condor_history -long output, a schedd history file, or raw-message NDJSON",
        ),
    ],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="NDJSON file; stdout if unset")] = None,
    source: Annotated[Literal["history", "queue", "file"], typer.Option(help="What the ads are")] = "history",
    pool: Annotated[str | None, typer.Option(help="Pool name (CMS_Pool)")] = None,
    schedd: Annotated[str | None, typer.Option(help="Schedd name, if not taken from GlobalJobId")] = None,
    collected_at: Annotated[
        float | None,
        typer.Option(
            parser=option_parser(_collection_time),
            metavar="TIME",
            help="Collection time, epoch seconds or ISO 8601 with zone; default now",
        ),
    ] = None,
    no_reduce: Annotated[bool, typer.Option("--no-reduce", help="Keep every field of running/idle/held jobs")] = False,
    config: ConfigOption = None,
) -> None:
    """Convert ads from a file into documents, one JSON object per line, with the service's conversion.

    ClassAd text gets the --source/--pool/--schedd/--collected-at envelope; raw-message lines keep their own.

    Exit status: 0 all ads converted (ROOT tasks are dropped on purpose), 4 (partial) some ads were skipped
    (each reported on stderr as FILE:LINE: reason), 2 usage error, 3 configuration error.
    """
    from services.common import gc_tuning
    from services.common.adfile import read_ads
    from services.common.dead_letter import service_identity
    from services.converter.offline import Envelope, convert_records
    from services.converter.pipeline import STAGE, Contexts

    cfg = load_settings(ConverterConfig, config)
    envelope = Envelope(SOURCES[source], pool, schedd, time.time() if collected_at is None else collected_at)
    context = Contexts(cfg.reduce_running and not no_reduce, _affiliations(cfg), cfg.max_text_bytes)()
    gc_tuning.freeze_startup_heap()
    with ExitStack() as stack:
        out = stack.enter_context(output.open("wb")) if output else sys.stdout.buffer
        summary = convert_records(
            read_ads(path), envelope, context, service_identity(STAGE), out, sys.stderr, str(path)
        )
        out.flush()
    typer.echo(
        f"{summary.documents} documents, {summary.dropped} dropped on purpose, {summary.skipped} skipped", err=True
    )
    raise typer.Exit(summary.exit_code)
