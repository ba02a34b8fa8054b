"""deploy/k8s: rendered by kustomize, validated by kubeconform against the Kubernetes API schemas (strict),
and checked against what the services need (probes on the metrics port, secrets as files, scaling limits)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from deploy_checks import spider_command_problem

from services.common import topics
from services.common.config import load_collectors, load_es_clusters

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33.0"
SERVICES = ("collector", "converter", "sink-es", "sink-opensearch", "sink-amq")
SCHEMA_FILES = (
    "deployment-apps-v1",
    "configmap-v1",
    "secret-v1",
    "service-v1",
    "poddisruptionbudget-policy-v1",
    "job-batch-v1",
    "cronjob-batch-v1",
)
READS = {
    "converter": (topics.RAW_QUEUE, topics.RAW_HISTORY),
    "sink-es": (topics.DOCS_QUEUE, topics.DOCS_HISTORY),
    "sink-opensearch": (topics.DOCS_QUEUE, topics.DOCS_HISTORY),
    "sink-amq": (topics.DOCS_QUEUE, topics.DOCS_HISTORY),
}


def tool(name: str) -> str:
    """A Go-built tool from PATH or GOPATH/bin; deploy/ci-tools.sh installs them."""
    found = shutil.which(name)
    if found is None and shutil.which("go"):
        gopath = subprocess.run(["go", "env", "GOPATH"], capture_output=True, text=True, check=True).stdout.strip()
        candidate = Path(gopath) / "bin" / name
        found = str(candidate) if candidate.exists() else None
    assert found, f"{name} not installed: run deploy/ci-tools.sh"
    return found


def render(variant: str) -> str:
    result = subprocess.run([tool("kustomize"), "build", str(K8S / variant)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module", params=["base", "collector-cron"])
def manifests(request, tmp_path_factory) -> tuple[Path, list[dict]]:
    text = render(request.param)
    path = tmp_path_factory.mktemp("k8s") / f"{request.param}.yaml"
    path.write_text(text, encoding="utf-8")
    return path, [d for d in yaml.safe_load_all(text) if d]


@pytest.fixture(scope="module")
def base() -> list[dict]:
    return [d for d in yaml.safe_load_all(render("base")) if d]


@pytest.fixture(scope="module")
def schema_dir(tmp_path_factory) -> Path:
    """kubeconform's standalone-strict layout, built from the schemas the kubernetes-validate package ships.

    Its files point at a shared definitions file by an absolute URL; kubeconform needs each schema
    self-contained, so the definitions are embedded and the references made local."""
    source = (
        Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{KUBERNETES_VERSION}-local-strict"
    )
    root = tmp_path_factory.mktemp("schemas")
    target = root / f"v{KUBERNETES_VERSION}-standalone-strict"
    target.mkdir()
    localise = lambda text: text.replace('"/api/_definitions.json#', '"#')  # noqa: E731
    definitions = json.loads(localise((source / "_definitions.json").read_text()))["$defs"]
    for kind in SCHEMA_FILES:
        schema = json.loads(localise((source / f"{kind}.json").read_text()))
        (target / f"{kind}.json").write_text(json.dumps(schema | {"$defs": definitions}))
    return root


def by(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def container(workload: dict) -> dict:
    spec = workload["spec"]
    pod = spec["jobTemplate"]["spec"]["template"] if workload["kind"] == "CronJob" else spec["template"]
    (only,) = pod["spec"]["containers"]
    return only


def kubeconform(schema_dir: Path, path: Path) -> subprocess.CompletedProcess[str]:
    location = f"{schema_dir}/{{{{ .NormalizedKubernetesVersion }}}}-standalone{{{{ .StrictSuffix }}}}/"
    location += "{{ .ResourceKind }}{{ .KindSuffix }}.json"
    command = [tool("kubeconform"), "-strict", "-summary", "-kubernetes-version", KUBERNETES_VERSION]
    return subprocess.run([*command, "-schema-location", location, str(path)], capture_output=True, text=True)


def test_kubeconform_accepts_every_resource_strictly(manifests, schema_dir):
    path, docs = manifests
    result = kubeconform(schema_dir, path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Valid: {len(docs)}," in result.stdout


def test_kubeconform_rejects_a_misspelt_field(schema_dir, tmp_path, base):
    """The validation is real: an unknown field in a pod spec fails."""
    broken = [json.loads(json.dumps(d)) for d in base]
    container(by(broken, "Deployment")["spider-converter"])["livenessProb"] = {}
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump_all(broken), encoding="utf-8")
    result = kubeconform(schema_dir, path)
    assert result.returncode == 1
    assert "livenessProb" in result.stdout


def test_base_runs_each_service_as_its_own_deployment(base):
    deployments = by(base, "Deployment")
    assert set(deployments) == {f"spider-{s}" for s in SERVICES}
    assert deployments["spider-collector"]["spec"]["replicas"] == 1


def test_cron_variant_runs_the_collector_once_per_period_instead():
    docs = [d for d in yaml.safe_load_all(render("collector-cron")) if d]
    assert "spider-collector" not in by(docs, "Deployment")
    assert "spider-collector" not in by(docs, "PodDisruptionBudget")
    cron = by(docs, "CronJob")["spider-collector"]
    assert container(cron)["args"] == ["collector", "--once"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"


def test_consumers_never_outnumber_the_partitions_they_share(base):
    partitions = {spec.name: spec.partitions for spec in topics.TOPICS}
    deployments = by(base, "Deployment")
    for service, read in READS.items():
        assert deployments[f"spider-{service}"]["spec"]["replicas"] <= min(partitions[t] for t in read), service


def test_probes_hit_healthz_and_readyz_on_the_configured_metrics_port(base):
    env = by(base, "ConfigMap")["spider-env"]["data"]
    for name, deployment in by(base, "Deployment").items():
        spider = container(deployment)
        ports = {p["name"]: p["containerPort"] for p in spider["ports"]}
        assert ports["metrics"] == int(env["SPIDER_METRICS_PORT"]), name
        assert spider["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}, name
        assert spider["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}, name


def test_every_workload_requests_resources_and_runs_non_root(manifests):
    _, docs = manifests
    workloads = [d for d in docs if d["kind"] in ("Deployment", "Job", "CronJob")]
    for workload in workloads:
        spider = container(workload)
        name = workload["metadata"]["name"]
        assert {"cpu", "memory"} <= set(spider["resources"]["requests"]), name
        assert "memory" in spider["resources"]["limits"], name
        assert spider["securityContext"]["allowPrivilegeEscalation"] is False, name
        assert spider["envFrom"] == [{"configMapRef": {"name": "spider-env"}}], name


def test_every_deployment_has_a_disruption_budget_selecting_its_pods(base):
    budgets = by(base, "PodDisruptionBudget")
    for name, deployment in by(base, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = budgets[name]["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items(), name


def test_container_args_are_built_spider_commands(manifests):
    _, docs = manifests
    workloads = [d for d in docs if d["kind"] in ("Deployment", "Job", "CronJob")]
    problems = [spider_command_problem(container(w)["args"]) for w in workloads]
    assert [p for p in problems if p] == []


def test_secrets_and_collectors_are_files_in_the_workdir_etc(base):
    env = by(base, "ConfigMap")["spider-env"]["data"]
    etc = env["SPIDER_WORKDIR"] + "/etc"
    needs = {
        "spider-collector": {"configMap": "spider-collectors"},
        "spider-sink-es": {"secret": "spider-es-conf"},
        "spider-sink-opensearch": {"secret": "spider-es-conf"},
        "spider-sink-amq": {"secret": "spider-amq"},
    }
    for name, (kind, source) in ((n, next(iter(s.items()))) for n, s in needs.items()):
        deployment = by(base, "Deployment")[name]
        mounts = {m["name"]: m["mountPath"] for m in container(deployment)["volumeMounts"]}
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        etc_volume = next(v for v, path in mounts.items() if path == etc)
        assert {"name": source} in [s[kind] for s in volumes[etc_volume]["projected"]["sources"] if kind in s], name
        assert all("secretKeyRef" not in str(e) for e in container(deployment).get("env", [])), name


def test_example_files_are_accepted_by_the_loaders(base, tmp_path):
    files = {**by(base, "ConfigMap")["spider-collectors"]["data"], **by(base, "Secret")["spider-es-conf"]["stringData"]}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert load_collectors(tmp_path / "collectors.json")
    assert {c.kind for c in load_es_clusters(tmp_path / "es_conf.json")} == {"elasticsearch", "opensearch"}
    assert set(by(base, "Secret")["spider-amq"]["stringData"]) == {"amq_username", "amq_password"}


def test_metrics_service_selects_long_running_pods_for_prometheus(base):
    service = by(base, "Service")["spider-metrics"]
    assert service["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    for deployment in by(base, "Deployment").values():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == "9100"


def test_topics_job_creates_the_topics(base):
    job = by(base, "Job")["spider-topics"]
    assert container(job)["args"] == ["topics", "create"]
