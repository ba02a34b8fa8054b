"""Checks shared by the container and Kubernetes file tests."""

from __future__ import annotations

from typer.testing import CliRunner

from services.cli import app


def spider_command_problem(args: list[str]) -> str | None:
    """Why `spider <args>` would not run a built command in a container (None if it would)."""
    words = [w for w in args if not w.startswith("-")]
    result = CliRunner().invoke(app, [*words, "--help"])
    if result.exit_code != 0:
        return f"spider {' '.join(args)}: {result.output.strip()}"
    if "not implemented yet" in result.output:
        return f"spider {' '.join(args)} is not built yet"
    options = [w.split("=", 1)[0] for w in args if w.startswith("--")]  # `--cluster=es-cms`: the option
    missing = [o for o in options if o not in result.output]
    return f"spider {' '.join(words)} has no option {missing}" if missing else None
