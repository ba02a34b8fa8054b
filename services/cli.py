"""The `spider` command: one entry point for every service and operator tool."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Literal

import orjson
import typer
from typer.core import TyperCommand, TyperGroup

from services import compilation
from services.collector import cli as collector_cli
from services.collector.config import CollectorConfig
from services.common import version
from services.common.cli_options import ConfigOption, WorkdirOption
from services.common.config import SpiderSettings, load_settings
from services.common.config_docs import render as render_config_docs
from services.common.errors import ExitStatus, SpiderError
from services.common.show_config import show
from services.converter import cli as converter_cli
from services.converter.affiliations_cli import affiliations_app
from services.converter.config import ConverterConfig
from services.recovery import cli as recovery_cli
from services.sinks.config import SinkConfig, SinkKind


class _DevelopmentCommands(TyperGroup):
    """`spider stack` and `spider demo` live in deploy/, which is development tooling that the production image
    does not ship: they are imported only when asked for (their help included), so every production command
    starts without them, and where deploy/ is absent they are simply not offered."""

    LAZY = {"stack": ("deploy.local.cli", "stack_app"), "demo": ("deploy.demo.cli", "demo_app")}

    def list_commands(self, ctx: typer.Context) -> list[str]:
        lazy = [name for name in self.LAZY if self._load(name) is not None]
        return sorted([*super().list_commands(ctx), *lazy])

    def get_command(self, ctx: typer.Context, cmd_name: str) -> TyperCommand | TyperGroup | None:
        return super().get_command(ctx, cmd_name) or self._load(cmd_name)

    def _load(self, name: str) -> TyperCommand | TyperGroup | None:
        if name not in self.LAZY:
            return None
        module, attribute = self.LAZY[name]
        try:
            sub_app = getattr(importlib.import_module(module), attribute)
        except ModuleNotFoundError as exc:
            if exc.name is not None and exc.name.split(".")[0] == "deploy":
                return None
            raise
        command = typer.main.get_command(sub_app)
        command.name = name
        return command


class _Spider(_DevelopmentCommands):
    """Every command's operator-facing errors (SpiderError) become one line on stderr and the error's exit status
    (services/common/errors.py); click's own usage errors keep theirs (2)."""

    def invoke(self, ctx: typer.Context) -> object:
        try:
            return super().invoke(ctx)
        except SpiderError as exc:
            typer.secho(f"spider: error: {exc}", err=True, fg="red")
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(cls=_Spider, no_args_is_help=True, pretty_exceptions_enable=False)
config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(collector_cli.checkpoint_app, name="checkpoint")
app.add_typer(collector_cli.topics_app, name="topics")
app.add_typer(affiliations_app, name="affiliations")
app.command("collector")(collector_cli.collector)

Service = Literal["collector", "converter", "sinks"]
SERVICE_CONFIGS: dict[Service, type[SpiderSettings]] = {
    "collector": CollectorConfig,
    "converter": ConverterConfig,
    "sinks": SinkConfig,
}


def _print_version() -> None:
    typer.echo(f"spider {version.package_version()} (git {version.git_hash()})")
    typer.echo(f"conversion: {compilation.STATUS}")


def _version_flag(value: bool) -> None:
    if value:
        _print_version()
        raise typer.Exit()


@app.callback()
def spider(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_flag, is_eager=True, help="Print what `spider version` prints and exit"
        ),
    ] = False,
) -> None:
    """The `spider` command: one entry point for every service and operator tool.

    Exit status: 0 done, 1 runtime failure, 2 usage error, 3 configuration error,
    4 partial (some input left out), 5 refused (nothing changed): docs/runbook.md "Exit codes"."""


@app.command("version")
def version_cmd() -> None:
    """Print the package version, the git hash stamped on documents and whether the conversion runs compiled."""
    _print_version()


@config_app.command("show")
def config_show(
    config: ConfigOption = None,
    service: Annotated[Service | None, typer.Option(help="Only this service's settings")] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Print the effective configuration as JSON, secrets masked."""
    names = [service] if service else list(SERVICE_CONFIGS)
    every = {n: load_settings(cls, config, workdir=workdir) for n, cls in SERVICE_CONFIGS.items()}
    configs = {n: every[n] for n in names}
    typer.echo(orjson.dumps(show(configs, every.values()), option=orjson.OPT_INDENT_2).decode())


@config_app.command("docs")
def config_docs(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write; - for stdout")] = Path(
        "docs/configuration.md"
    ),
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if the file differs from the generated text")] = False,
) -> None:
    """Generate the configuration reference (every setting, env var, TOML key, default) from the config classes."""
    text = render_config_docs(SERVICE_CONFIGS)
    if str(output) == "-":
        typer.echo(text, nl=False)
    elif check:
        if not output.exists() or output.read_text(encoding="utf-8") != text:
            typer.echo(f"{output} is out of date: run `spider config docs`", err=True)
            raise typer.Exit(ExitStatus.FAILURE)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")


app.command("converter")(converter_cli.converter)
app.command("convert")(converter_cli.convert)
app.command("status")(recovery_cli.status)
app.command("replay")(recovery_cli.replay)
app.command("purge")(recovery_cli.purge)
app.add_typer(recovery_cli.dlq_app, name="dlq")


@app.command("sink")
def sink_cmd(
    kind: Annotated[SinkKind, typer.Argument(help="Target kind", show_default=False)],
    cluster: Annotated[
        str | None, typer.Option(help="Only this es_conf.json cluster (default: all of the kind)")
    ] = None,
    init: Annotated[bool, typer.Option("--init", help="Install index templates and exit")] = False,
    config: ConfigOption = None,
    workdir: WorkdirOption = None,
) -> None:
    """Consume document topics into one target kind (one consumer group per cluster) until SIGTERM."""
    from services.sinks import command

    if kind == "amq" and cluster is not None:
        raise typer.BadParameter("selects an es_conf.json cluster; the amq sink has none", param_hint="'--cluster'")
    command.run(kind, load_settings(SinkConfig, config, workdir=workdir), cluster, init)


def main() -> None:
    app()
