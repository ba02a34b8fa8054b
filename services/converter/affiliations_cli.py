"""`spider affiliations ...`: upkeep of the user -> institute/country cache file (registered in services/cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from services.common.cli_options import ConfigOption
from services.common.config import load_settings, readable
from services.converter.config import ConverterConfig

affiliations_app = typer.Typer(help="The affiliation directory cache (CRIC users).", no_args_is_help=True)


@affiliations_app.command("refresh")
def refresh(
    config: ConfigOption = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Cache file; default affiliation_file")] = None,
    url: Annotated[str | None, typer.Option(help="CRIC user directory URL (cric_url)")] = None,
) -> None:
    """Download the CRIC user directory and replace the cache file atomically (kept as it was on failure).

    Running converters pick up the new file on their own (they re-read it when its modification time changes).
    """
    from services.converter import cric

    cfg = load_settings(ConverterConfig, config, cric_url=url)
    source = cric.Source(
        url=cfg.cric_url,
        cert_file=_tls_file(cfg, "cric_cert_file"),
        key_file=_tls_file(cfg, "cric_key_file"),
        ca_file=_tls_file(cfg, "cric_ca_file"),
        timeout_s=cfg.cric_timeout_s,
    )
    path = output if output is not None else cfg.resolve(cfg.affiliation_file)
    count = cric.refresh(source, path)
    typer.echo(f"wrote {count} affiliations to {path}")


def _tls_file(cfg: ConverterConfig, setting: str) -> Path | None:
    """A configured certificate, key or CA file, checked before any download: a wrong path is a configuration
    error (exit 3), not a failed refresh."""
    path = getattr(cfg, setting)
    return None if path is None else readable(cfg.resolve(path), setting)
