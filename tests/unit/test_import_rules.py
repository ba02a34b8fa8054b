"""The import rules of .importlinter (docs/architecture.md) hold for the code, and each contract catches a breach."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = shutil.which("lint-imports", path=str(Path(sys.executable).parent))


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS is not None, "lint-imports is missing: pip install -e '.[dev]'"
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", str(ROOT / ".importlinter")],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_code_keeps_every_import_rule():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _tree(root: Path, modules: dict[str, str]) -> None:
    """A minimal project with the contracts' packages, and `modules` (dotted name -> source) added to it."""
    packages = ["services", "services.common", "services.collector", "services.converter", "services.sinks"]
    packages += ["services.recovery", "deploy", "deploy.demo", "bench", "schemas"]
    for package in packages:
        path = root.joinpath(*package.split("."))
        path.mkdir(parents=True, exist_ok=True)
        (path / "__init__.py").write_text("")
    (root / "services" / "cli.py").write_text("")
    for name, source in modules.items():
        root.joinpath(*name.split(".")).with_suffix(".py").write_text(source)


@pytest.mark.parametrize(
    ("module", "source", "broken"),
    [
        ("services.sinks.runner", "from deploy.demo import progress\n", "Services never import"),
        ("services.converter.service", "import bench.ads\n", "Services never import"),
        ("services.common.kafka", "from services.sinks import runner\n", "services.common imports no service"),
        ("services.converter.service", "from services.collector import publisher\n", "do not import each other"),
        ("services.sinks.runner", "import services.converter.config\n", "do not import each other"),
        ("deploy.demo.run", "from bench import ads\n", "The demo does not depend on the benchmarks"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tmp_path, module, source, broken):
    _tree(
        tmp_path,
        {
            "services.sinks.runner": "",
            "services.converter.service": "",
            "services.converter.config": "",
            "services.collector.publisher": "",
            "services.common.kafka": "",
            "deploy.demo.run": "",
            "deploy.demo.progress": "",
            "bench.ads": "",
        }
        | {module: source},
    )
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    broken_section = result.stdout.split("Broken contracts")[1]
    assert broken in broken_section


def test_a_tree_without_forbidden_imports_passes(tmp_path):
    _tree(
        tmp_path,
        {
            "services.common.kafka": "",
            "services.sinks.runner": "from services.common import kafka\n",
            "services.recovery.status": "from services.sinks import runner\nfrom services.collector import x\n",
            "services.collector.x": "",
            "deploy.demo.run": "from services.common import kafka\n",
            "bench.ads": "from services.sinks import runner\n",
        },
    )
    result = lint_imports(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
