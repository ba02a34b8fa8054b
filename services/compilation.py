"""Which per-message modules run compiled (setup.py builds them with Cython), and a guard against stale ones.

An editable install leaves each compiled module beside its source, and Python prefers the compiled file: an
edited source would silently not run. So a module whose source no longer has the hash recorded at build time
(services/compiled.json) is imported from its source, with one warning; SPIDER_PURE_PYTHON=1 at run time
imports them all from source (for profilers that only see Python frames, or to rule the compilation out).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

PACKAGE_DIR = Path(__file__).resolve().parent
MANIFEST = PACKAGE_DIR / "compiled.json"
PURE_PYTHON_ENV = "SPIDER_PURE_PYTHON"


class StaleCompiledModule(UserWarning):
    """A module's source changed since it was compiled; the source runs instead (reinstall to compile it)."""


def source_path(module: str, package_dir: Path = PACKAGE_DIR) -> Path:
    """services.converter.casting -> <package_dir>/converter/casting.py"""
    return package_dir.joinpath(*module.split(".")[1:]).with_suffix(".py")


def read_manifest(path: Path = MANIFEST) -> dict[str, str]:
    """Module -> sha256 of the source it was compiled from; empty when nothing was compiled."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def stale_modules(manifest: Mapping[str, str], package_dir: Path = PACKAGE_DIR) -> list[str]:
    """The compiled modules whose source changed since (or is gone)."""
    stale = []
    for module, digest in manifest.items():
        try:
            current = hashlib.sha256(source_path(module, package_dir).read_bytes()).hexdigest()
        except OSError:
            current = None
        if current != digest:
            stale.append(module)
    return stale


class SourceFirst(importlib.abc.MetaPathFinder):
    """Imports the named modules from their .py files, ahead of the compiled files beside them."""

    def __init__(self, sources: Mapping[str, Path]) -> None:
        self.sources = dict(sources)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        source = self.sources.get(fullname)
        return importlib.util.spec_from_file_location(fullname, source) if source is not None else None


def _install() -> str:
    """Put the guard in place at package import; returns how the per-message modules run, for `spider version`."""
    manifest = read_manifest()
    if not manifest:
        return "pure Python (not compiled at install)"
    pure = bool(os.environ.get(PURE_PYTHON_ENV))
    from_source = list(manifest) if pure else stale_modules(manifest)
    if from_source:
        sys.meta_path.insert(0, SourceFirst({module: source_path(module) for module in from_source}))
    if pure:
        return f"pure Python ({PURE_PYTHON_ENV} is set)"
    if not from_source:
        return f"compiled ({len(manifest)} modules)"
    stale = ", ".join(from_source)
    warnings.warn(
        f"{stale} changed since compiled; running from source until `pip install` is run again",
        StaleCompiledModule,
        stacklevel=2,
    )
    return f"compiled ({len(manifest) - len(from_source)} modules; from source, changed since built: {stale})"


STATUS = _install()
