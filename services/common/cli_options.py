"""Options every `spider` command spells the same way, and how option values are read (services/cli.py)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

T = TypeVar("T")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML config file (also SPIDER_CONFIG)", show_default=False)
]
WorkdirOption = Annotated[Path | None, typer.Option(help="Reference-layout directory (SPIDER_WORKDIR)")]


def option_parser(parse: Callable[[str], T]) -> Callable[[str], T]:
    """`parse`, which raises ValueError on bad input, as a typer parser: click reports the ValueError's text as a
    usage error naming the option (exit status 2) while it reads the command line, so before any configuration
    is read or connection attempted."""

    @functools.wraps(parse)
    def parser(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None

    return parser
