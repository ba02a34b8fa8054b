"""`spider demo` (loaded on demand by services/cli.py); the work is in deploy.demo.run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from deploy.demo.workdir import DemoNames
from deploy.local.config import load_stack_config


def demo(
    timeout: Annotated[
        float, typer.Option(help="Seconds allowed for every document to land, once the stack is up")
    ] = 300.0,
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="Leave the pipeline running after the summary (Ctrl-C stops it)")
    ] = False,
    name: Annotated[
        str, typer.Option(help="Names the demo's topics (<name>.*), indices (spider-<name>-*), groups and workdir")
    ] = "demo",
    state_dir: Annotated[Path | None, typer.Option("--dir", help="Stack state directory (SPIDER_STACK_DIR)")] = None,
) -> None:
    """Run the whole pipeline on the local stack with bundled CMS ads and show where every document landed.

    Brings the stack up, runs collector, converter and the three sinks as separate processes, stops when
    everything is in Elasticsearch and OpenSearch and was sent to ActiveMQ (exit 1 if not within --timeout).
    """
    from deploy.demo import run

    try:
        names = DemoNames(name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    run.run(names, load_stack_config(dir=state_dir), timeout, keep_running, Console())


# services/cli.py loads this app only when `spider demo` is asked for: a single command, so no sub-command level.
demo_app = typer.Typer(add_completion=False)
demo_app.command("demo")(demo)
