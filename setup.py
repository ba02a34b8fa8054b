"""Compiles the per-message conversion path with Cython; everything else is in pyproject.toml.

Why: a conversion is ~40 small rule functions over dicts, where CPython's interpreter loop is most of the
cost; the same sources compiled convert ~1.2x faster with the same documents (docs/performance.md). The
sources stay plain Python, with Python semantics (annotations are not used as C types), and pure Python
remains a complete fallback:
- SPIDER_PURE_PYTHON=1 at install time builds nothing; without a C compiler the build only warns;
- services/compilation.py imports a module from its source when the source changed after the build, or
  for every module when SPIDER_PURE_PYTHON=1 is set at run time.
The build records each compiled module's source hash in services/compiled.json for that check.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

COMPILED = (
    "services/common/json_object.py",
    "services/common/raw_message.py",
    "services/common/document_message.py",
    "services/converter/affiliations.py",
    "services/converter/casting.py",
    "services/converter/chirp.py",
    "services/converter/cmssw.py",
    "services/converter/convert.py",
    "services/converter/crab.py",
    "services/converter/exit_codes.py",
    "services/converter/expressions.py",
    "services/converter/machine.py",
    "services/converter/pipeline.py",
    "services/converter/ratelimit.py",
    "services/converter/registry.py",
    "services/converter/resources.py",
    "services/converter/sites.py",
    "services/converter/values.py",
    "services/converter/workflow.py",
)
MANIFEST = "compiled.json"  # in the services package, beside the compiled modules


def _module(source: str) -> str:
    return source.removesuffix(".py").replace("/", ".")


class BuildExtWithManifest(build_ext):
    """build_ext that also writes which modules it compiled, from which source (sha256)."""

    def run(self) -> None:
        super().run()
        built = {
            _module(source): hashlib.sha256(Path(source).read_bytes()).hexdigest()
            for source in COMPILED
            if Path(self.get_ext_fullpath(_module(source))).exists()
        }
        self._manifest().write_text(json.dumps(built, indent=1, sort_keys=True) + "\n")

    def get_outputs(self) -> list[str]:
        return [*super().get_outputs(), str(self._manifest())]

    def _manifest(self) -> Path:
        """In the services package of wherever this build puts modules (the source tree when in place)."""
        return Path(self.get_ext_fullpath("services.compiled")).with_name(MANIFEST)


def _extensions() -> list[Extension]:
    if os.environ.get("SPIDER_PURE_PYTHON"):
        return []
    from Cython.Build import cythonize

    extensions = cythonize(
        [Extension(_module(source), [source]) for source in COMPILED],
        build_dir="build/cython",  # the generated C stays out of the source tree
        compiler_directives={"language_level": 3, "annotation_typing": False, "binding": True},
        quiet=True,
    )
    for extension in extensions:
        extension.optional = True  # no C compiler: a warning and the pure-Python module (cythonize drops the flag)
    return extensions


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExtWithManifest})
