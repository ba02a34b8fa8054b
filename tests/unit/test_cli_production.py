"""The `spider` command as the production image has it: deploy/ (the local stack, the demo) is not shipped there,
so every production command must start without it, and the development commands are loaded only on demand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# Runs the CLI in a fresh interpreter where the `deploy` package cannot be imported, as in the image.
WITHOUT_DEPLOY = """
import sys
sys.modules["deploy"] = None
from services.cli import main
sys.argv = ["spider", *sys.argv[1:]]
main()
"""


def spider_without_deploy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_DEPLOY, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    "args",
    [("--help",), ("version",), ("converter", "--help"), ("sink", "es", "--help"), ("collector", "--help")],
    ids=" ".join,
)
def test_production_commands_start_without_the_development_tooling(args: tuple[str, ...]) -> None:
    result = spider_without_deploy(*args)

    assert result.returncode == 0, result.stderr
    assert "deploy" not in result.stderr


def test_development_commands_are_not_offered_where_deploy_is_absent() -> None:
    listing = spider_without_deploy("--help").stdout

    assert "converter" in listing
    assert " stack " not in listing and " demo " not in listing


def test_importing_the_cli_loads_no_development_module() -> None:
    probe = "import sys, services.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in ('deploy', 'bench')))"

    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)

    assert loaded.stdout.strip() == "[]"


def test_development_commands_load_on_demand_in_a_checkout() -> None:
    spider = Path(sys.executable).with_name("spider")

    result = subprocess.run([spider, "stack", "--help"], capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 0, result.stderr
    assert "up" in result.stdout and "down" in result.stdout
