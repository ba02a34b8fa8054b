"""The per-message modules compiled by setup.py: same documents as the sources, and never a stale module.

The tests that need the compiled modules skip on an install made without them (SPIDER_PURE_PYTHON=1 at
install time, or no C compiler); .ci/run checks that its install has them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.ads import raw_messages, realistic_ads
from services import compilation
from tests.unit.converter.golden import names, raw_bytes

MANIFEST = compilation.read_manifest()
needs_compiled = pytest.mark.skipif(not MANIFEST, reason="this install has no compiled modules")


def _python(code: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != compilation.PURE_PYTHON_ENV}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, cwd=cwd, timeout=120
    )


def _loaded_files(cwd: Path | None = None, **env: str) -> tuple[dict[str, str], str]:
    """Module -> file it was imported from, for every module of the manifest, in a fresh interpreter."""
    code = (
        "import importlib, json, services\n"
        f"print(json.dumps({{m: importlib.import_module(m).__file__ for m in {sorted(MANIFEST)!r}}}))"
    )
    run = _python(code, cwd=cwd, **env)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout), run.stderr


def _package(tmp_path: Path, sources: dict[str, str]) -> Path:
    root = tmp_path / "services"
    for relative, text in sources.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_module_whose_source_still_has_the_built_hash_is_fresh(tmp_path):
    root = _package(tmp_path, {"converter/crab.py": "X = 1\n"})
    assert compilation.stale_modules({"services.converter.crab": _sha256("X = 1\n")}, root) == []


def test_a_module_whose_source_was_edited_after_the_build_is_stale(tmp_path):
    root = _package(tmp_path, {"converter/crab.py": "X = 2\n"})
    assert compilation.stale_modules({"services.converter.crab": _sha256("X = 1\n")}, root) == [
        "services.converter.crab"
    ]


def test_a_module_whose_source_is_gone_is_stale(tmp_path):
    root = _package(tmp_path, {})
    assert compilation.stale_modules({"services.converter.crab": _sha256("X = 1\n")}, root) == [
        "services.converter.crab"
    ]


def test_an_unreadable_manifest_means_nothing_compiled(tmp_path):
    (tmp_path / "compiled.json").write_text("{not json")
    assert compilation.read_manifest(tmp_path / "compiled.json") == {}


@needs_compiled
def test_the_installed_modules_run_compiled():
    files, _ = _loaded_files()
    assert {module for module, file in files.items() if not file.endswith(".so")} == set()


@needs_compiled
def test_pure_python_at_run_time_imports_every_module_from_source():
    files, _ = _loaded_files(**{compilation.PURE_PYTHON_ENV: "1"})
    assert {module for module, file in files.items() if not file.endswith(".py")} == set()


@needs_compiled
def test_an_edited_source_runs_instead_of_its_stale_compiled_module(tmp_path):
    shutil.copytree(compilation.PACKAGE_DIR, tmp_path / "services", ignore=shutil.ignore_patterns("__pycache__"))
    with (tmp_path / "services" / "converter" / "crab.py").open("a") as source:
        source.write("\nEDITED = True\n")
    code = "import services.converter.crab as crab, services.converter.casting as casting\n"
    code += "print(crab.__file__, casting.__file__, crab.EDITED)"
    run = _python(code, cwd=tmp_path, PYTHONPATH=str(tmp_path))
    assert run.returncode == 0, run.stderr
    crab_file, casting_file, edited = run.stdout.split()
    assert (crab_file, Path(casting_file).suffix, edited) == (
        str(tmp_path / "services" / "converter" / "crab.py"),
        ".so",
        "True",
    )
    assert "services.converter.crab changed since compiled" in run.stderr


@needs_compiled
def test_compiled_and_pure_python_give_byte_identical_output(tmp_path):
    ads = [ad for kind in ("history", "queue", "crab", "production") for ad in realistic_ads(150, seed=7, kind=kind)]
    lines = [raw_bytes(name) for name in names()] + [value for _, value in raw_messages(ads, source="condor_history")]
    lines.append(b'{"schema": "not an envelope"}')  # a dead letter too
    source = tmp_path / "raw.ndjson"
    source.write_bytes(b"\n".join(lines) + b"\n")
    code = f"import sys; sys.argv = ['spider', 'convert', {str(source)!r}]; from services.cli import main; main()"
    compiled, pure = _python(code), _python(code, **{compilation.PURE_PYTHON_ENV: "1"})
    assert compiled.stdout.count("\n") > len(lines) - 10
    assert (compiled.returncode, compiled.stdout, compiled.stderr) == (pure.returncode, pure.stdout, pure.stderr)
