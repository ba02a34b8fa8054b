"""deploy/k8s: rendered by kustomize, validated by kubeconform against the Kubernetes API schemas (strict),
and checked against what the services need (probes on the metrics port, secrets as files, scaling limits)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from deploy_checks import spider_command_problem

from services.collector.config import CollectorConfig
from services.common import topics
from services.common.config import ClusterConfig, load_collectors, load_es_clusters, load_settings
from services.converter.config import ConverterConfig
from services.sinks.config import SinkConfig

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
EXAMPLE_SECRETS = K8S / "examples" / "secrets.yaml"
KUBERNETES_VERSION = "1.33.0"
KEDA_VERSION = re.search(r"^KEDA_VERSION=(\S+)", (ROOT / "deploy" / "ci-tools.sh").read_text(), re.M)[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
SERVICES = ("collector", "converter", "sink-es", "sink-opensearch", "sink-amq")
VARIANTS = ("base", "collector-cron", "per-cluster")
SINK_KINDS = {"elasticsearch": "es", "opensearch": "opensearch"}
"""es_conf.json cluster kind -> the `spider sink` kind that writes to it."""
SINK_UNIT = ("Deployment", "PodDisruptionBudget", "ScaledObject")
"""What each sink is made of (deploy/k8s/base/sink-es/ and sink-opensearch/)."""
SCHEMA_FILES = (
    "deployment-apps-v1",
    "configmap-v1",
    "secret-v1",
    "service-v1",
    "poddisruptionbudget-policy-v1",
    "job-batch-v1",
    "cronjob-batch-v1",
    "networkpolicy-networking-v1",
    "persistentvolumeclaim-v1",
)
KEDA_CRDS = ("keda.sh_scaledobjects.yaml", "keda.sh_triggerauthentications.yaml")
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


def render(variant: str | Path) -> str:
    """`kustomize build` of a directory of deploy/k8s (or of any directory given by its absolute path)."""
    result = subprocess.run([tool("kustomize"), "build", str(K8S / variant)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module", params=VARIANTS)
def manifests(request, tmp_path_factory) -> tuple[Path, list[dict]]:
    text = render(request.param)
    path = tmp_path_factory.mktemp("k8s") / f"{request.param}.yaml"
    path.write_text(text, encoding="utf-8")
    return path, [d for d in yaml.safe_load_all(text) if d]


@pytest.fixture(scope="module")
def base() -> list[dict]:
    return [d for d in yaml.safe_load_all(render("base")) if d]


@pytest.fixture(scope="module")
def per_cluster() -> list[dict]:
    return [d for d in yaml.safe_load_all(render("per-cluster")) if d]


@pytest.fixture(scope="module")
def clusters(tmp_path_factory) -> list[ClusterConfig]:
    """The clusters of the example es_conf.json (deploy/k8s/examples/secrets.yaml)."""
    path = tmp_path_factory.mktemp("es_conf") / "es_conf.json"
    path.write_text(example_secrets()["spider-es-conf"]["stringData"]["es_conf.json"], encoding="utf-8")
    return load_es_clusters(path)


def keda_crds() -> Path:
    """config/crd/bases of the KEDA Go module (deploy/ci-tools.sh downloads it into the module cache)."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    module = f"github.com/kedacore/keda/v2@{KEDA_VERSION}"
    found = subprocess.run([go, "mod", "download", "-json", module], capture_output=True, text=True, cwd="/")
    assert found.returncode == 0, f"KEDA module {KEDA_VERSION}: run deploy/ci-tools.sh\n{found.stdout}{found.stderr}"
    return Path(json.loads(found.stdout)["Dir"]) / "config" / "crd" / "bases"


def strict(schema: dict) -> dict:
    """An OpenAPI schema where objects with listed properties refuse unknown ones (kubeconform -strict does that
    only for its own Kubernetes schemas; the CRD leaves unknown fields to the API server's pruning)."""
    if isinstance(schema, dict):
        schema = {k: strict(v) for k, v in schema.items()}
        open_ended = "additionalProperties" in schema or schema.get("x-kubernetes-preserve-unknown-fields")
        if "properties" in schema and not open_ended:
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


@pytest.fixture(scope="module")
def schema_dir(tmp_path_factory) -> Path:
    """kubeconform's standalone-strict layout, built from the schemas the kubernetes-validate package ships,
    plus the KEDA CRDs' schemas (<group>/<kind>_<version>.json).

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
    for name in KEDA_CRDS:
        crd = yaml.safe_load((keda_crds() / name).read_text())
        group = root / crd["spec"]["group"]
        group.mkdir(exist_ok=True)
        for version in crd["spec"]["versions"]:
            kind = crd["spec"]["names"]["kind"].lower()
            schema = strict(version["schema"]["openAPIV3Schema"])
            (group / f"{kind}_{version['name']}.json").write_text(json.dumps(schema))
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
    crds = f"{schema_dir}/{{{{ .Group }}}}/{{{{ .ResourceKind }}}}_{{{{ .ResourceAPIVersion }}}}.json"
    command = [tool("kubeconform"), "-strict", "-summary", "-kubernetes-version", KUBERNETES_VERSION]
    command += ["-schema-location", location, "-schema-location", crds]
    return subprocess.run([*command, str(path)], capture_output=True, text=True)


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


def test_kubeconform_checks_scaled_objects_against_the_keda_schema(schema_dir, tmp_path, base):
    broken = [json.loads(json.dumps(d)) for d in base]
    by(broken, "ScaledObject")["spider-converter"]["spec"]["maxReplicas"] = 4
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump_all(broken), encoding="utf-8")
    result = kubeconform(schema_dir, path)
    assert result.returncode == 1
    assert "maxReplicas" in result.stdout


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


def per_cluster_sinks(clusters: list[ClusterConfig]) -> dict[str, tuple[str, ClusterConfig]]:
    """Deployment name -> (sink kind, cluster) of the per-cluster variant: named after the sink's consumer group,
    <consumer_group_prefix>-<kind>-<cluster> (services/sinks/bulk.py names a target <kind>-<cluster>)."""
    prefix = SinkConfig.model_fields["consumer_group_prefix"].default
    return {f"{prefix}-{SINK_KINDS[c.kind]}-{c.name}": (SINK_KINDS[c.kind], c) for c in clusters}


def test_per_cluster_variant_runs_one_sink_per_cluster_scaled_on_its_group(per_cluster, clusters):
    search = (["sink", "es"], ["sink", "opensearch"])
    args = {name: container(d)["args"] for name, d in by(per_cluster, "Deployment").items()}
    search_sinks = {name: words for name, words in args.items() if words[:2] in search}
    expected = per_cluster_sinks(clusters)
    assert search_sinks == {name: ["sink", kind, f"--cluster={c.name}"] for name, (kind, c) in expected.items()}
    scalers = {s["spec"]["scaleTargetRef"]["name"]: s for s in by(per_cluster, "ScaledObject").values()}
    for name in expected:
        (trigger,) = scalers[name]["spec"]["triggers"]
        assert trigger["metadata"]["consumerGroup"] == name
        assert set(trigger["metadata"]["topic"].split(",")) == {f"spider.{t}" for t in READS["sink-es"]}
        assert name in by(per_cluster, "PodDisruptionBudget")
    for kind in SINK_UNIT:
        assert {"spider-sink-es", "spider-sink-opensearch"}.isdisjoint(by(per_cluster, kind)), kind


def test_per_cluster_variant_is_the_base_with_the_search_sinks_split(base, per_cluster, clusters):
    """Everything else is the base's, unchanged; a cluster's Deployment is its kind's base Deployment but for the
    name, the --cluster argument and the instance label (on its pods and in each of its selectors)."""
    split = {"spider-sink-es", "spider-sink-opensearch"}
    kept = [d for d in base if d["metadata"]["name"] not in split or d["kind"] not in SINK_UNIT]
    assert [d for d in per_cluster if d in kept] == kept
    assert len(per_cluster) == len(kept) + len(SINK_UNIT) * len(clusters)
    for name, (kind, cluster) in per_cluster_sinks(clusters).items():
        expected = json.loads(json.dumps(by(base, "Deployment")[f"spider-sink-{kind}"]))
        label = {"app.kubernetes.io/instance": cluster.name}
        expected["metadata"] |= {"name": name, "labels": expected["metadata"]["labels"] | label}
        pod = expected["spec"]["template"]
        selectors = [
            expected["spec"]["selector"],
            *(c["labelSelector"] for c in pod["spec"]["topologySpreadConstraints"]),
        ]
        for selected in (pod["metadata"]["labels"], *(s["matchLabels"] for s in selectors)):
            selected |= label
        container(expected)["args"].append(f"--cluster={cluster.name}")
        assert by(per_cluster, "Deployment")[name] == expected


def test_every_consumer_deployment_scales_with_one_scaled_object(manifests):
    _, docs = manifests
    targets = sorted(s["spec"]["scaleTargetRef"]["name"] for s in by(docs, "ScaledObject").values())
    consumers = sorted(n for n, d in by(docs, "Deployment").items() if container(d)["args"][0] != "collector")
    assert targets == consumers


def test_an_overlay_name_prefix_keeps_the_keda_references(tmp_path):
    """components/workload-defaults tells kustomize KEDA's references, so renaming (the per-cluster suffixes, an
    operator's namePrefix) renames the ScaledObjects' targets and TriggerAuthentication along."""
    (tmp_path / "k8s").symlink_to(K8S)
    (tmp_path / "kustomization.yaml").write_text("resources: [k8s/per-cluster]\nnamePrefix: cms-\n")
    docs = [d for d in yaml.safe_load_all(render(tmp_path)) if d]
    auth = set(by(docs, "TriggerAuthentication"))
    for name, scaler in by(docs, "ScaledObject").items():
        assert scaler["spec"]["scaleTargetRef"]["name"] == name in by(docs, "Deployment")
        assert {t["authenticationRef"]["name"] for t in scaler["spec"]["triggers"]} == auth == {"cms-spider-kafka"}


def test_command_check_reads_an_option_given_with_its_value():
    assert spider_command_problem(["sink", "es", "--cluster=es-cms"]) is None
    assert spider_command_problem(["sink", "es", "--clustr=es-cms"]) == "spider sink es has no option ['--clustr']"


def test_consumers_never_outnumber_the_partitions_they_share(base):
    partitions = {spec.name: spec.partitions for spec in topics.TOPICS}
    deployments = by(base, "Deployment")
    for service, read in READS.items():
        assert deployments[f"spider-{service}"]["spec"]["replicas"] <= min(partitions[t] for t in read), service


def test_probes_hit_healthz_and_readyz_on_the_configured_metrics_port(manifests):
    _, docs = manifests
    env = env_of(docs)
    for name, deployment in by(docs, "Deployment").items():
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


def test_every_deployment_has_a_disruption_budget_selecting_its_pods_only(manifests):
    """Each Deployment's selector, budget and spread constraint pick its own pods and no other Deployment's
    (per-cluster sinks of one kind share app.kubernetes.io/name; their instance label tells them apart)."""
    _, docs = manifests
    budgets = by(docs, "PodDisruptionBudget")
    pods = {name: d["spec"]["template"]["metadata"]["labels"] for name, d in by(docs, "Deployment").items()}
    for name, deployment in by(docs, "Deployment").items():
        selectors = [deployment["spec"]["selector"], budgets[name]["spec"]["selector"]]
        selectors += [
            c["labelSelector"] for c in deployment["spec"]["template"]["spec"].get("topologySpreadConstraints", [])
        ]
        for selector in (s["matchLabels"] for s in selectors):
            assert [other for other, labels in pods.items() if selector.items() <= labels.items()] == [name], name


def test_container_args_are_built_spider_commands(manifests):
    _, docs = manifests
    workloads = [d for d in docs if d["kind"] in ("Deployment", "Job", "CronJob")]
    problems = [spider_command_problem(container(w)["args"]) for w in workloads]
    assert [p for p in problems if p] == []


def test_secrets_and_collectors_are_files_in_the_workdir_etc(manifests):
    _, docs = manifests
    etc = env_of(docs)["SPIDER_WORKDIR"] + "/etc"
    needs = {
        ("collector",): ("configMap", "spider-collectors"),
        ("sink", "es"): ("secret", "spider-es-conf"),
        ("sink", "opensearch"): ("secret", "spider-es-conf"),
        ("sink", "amq"): ("secret", "spider-amq"),
    }
    met = set()
    for workload in (d for d in docs if d["kind"] in ("Deployment", "CronJob")):
        name, args = workload["metadata"]["name"], container(workload)["args"]
        command = tuple(args[:2]) if args[0] == "sink" else tuple(args[:1])
        if command not in needs:
            continue
        kind, source = needs[command]
        mounts = {m["name"]: m["mountPath"] for m in container(workload)["volumeMounts"]}
        volumes = {v["name"]: v for v in pod_specs([workload])[name]["volumes"]}
        etc_volume = next(v for v, path in mounts.items() if path == etc)
        assert {"name": source} in [s[kind] for s in volumes[etc_volume]["projected"]["sources"] if kind in s], name
        assert all("secretKeyRef" not in str(e) for e in container(workload).get("env", [])), name
        met.add(command)
    assert met == set(needs)


def example_secrets() -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in yaml.safe_load_all(EXAMPLE_SECRETS.read_text(encoding="utf-8"))}


def test_example_files_are_accepted_by_the_loaders(base, tmp_path):
    files = {**by(base, "ConfigMap")["spider-collectors"]["data"], **example_secrets()["spider-es-conf"]["stringData"]}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert load_collectors(tmp_path / "collectors.json")
    assert {c.kind for c in load_es_clusters(tmp_path / "es_conf.json")} == {"elasticsearch", "opensearch"}
    assert set(example_secrets()["spider-amq"]["stringData"]) == {"amq_username", "amq_password"}


def pod_specs(docs: list[dict]) -> dict[str, dict]:
    specs = {}
    for d in docs:
        if d["kind"] in ("Deployment", "Job"):
            specs[d["metadata"]["name"]] = d["spec"]["template"]["spec"]
        elif d["kind"] == "CronJob":
            specs[d["metadata"]["name"]] = d["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return specs


def test_base_creates_no_secret_and_every_mounted_secret_is_in_the_example(manifests):
    """`apply -k base` never installs a placeholder password; the example lists every key a pod reads."""
    _, docs = manifests
    assert by(docs, "Secret") == {}
    examples = example_secrets()
    for name, spec in pod_specs(docs).items():
        for volume in spec.get("volumes", []):
            sources = [volume.get("secret")] + [s.get("secret") for s in volume.get("projected", {}).get("sources", [])]
            for secret in filter(None, sources):
                secret_name = secret.get("secretName") or secret.get("name")
                assert secret_name in examples, f"{name}: Secret {secret_name} is not in {EXAMPLE_SECRETS.name}"
                keys = {item["key"] for item in secret.get("items", [])}
                assert keys <= set(examples[secret_name]["stringData"]), name


def test_every_pod_runs_without_a_service_account_token(manifests):
    _, docs = manifests
    assert all(spec["automountServiceAccountToken"] is False for spec in pod_specs(docs).values())


def env_of(base: list[dict]) -> dict[str, str]:
    return by(base, "ConfigMap")["spider-env"]["data"]


def test_production_settings_load_in_every_service(base, monkeypatch):
    """The ConfigMap's variables are settings the services accept: the AMQ sink gets its brokers (not
    127.0.0.1), the converter declares no topic (the Job makes them with replication 3), Kafka is SASL_SSL."""
    for key in [k for k in os.environ if k.startswith("SPIDER_")]:
        monkeypatch.delenv(key)
    for key, value in env_of(base).items():
        monkeypatch.setenv(key, value)
    sink = load_settings(SinkConfig)
    assert sink.amq.hosts and not any(h.startswith("127.0.0.1") for h in sink.amq.hosts)
    assert load_settings(ConverterConfig).declare_topics is False
    collector = load_settings(CollectorConfig)
    assert collector.kafka.security_protocol == "SASL_SSL"
    assert collector.kafka.sasl_password_file and collector.kafka.ssl_ca_location


def test_every_topic_spider_creates_in_production_is_durable(base, monkeypatch):
    """Replication 3 and min.insync.replicas 2 are settings of every service (the topics Job and, were it
    switched on, the converter's declaration), not flags of one command."""
    for key in [k for k in os.environ if k.startswith("SPIDER_")]:
        monkeypatch.delenv(key)
    for key, value in env_of(base).items():
        monkeypatch.setenv(key, value)
    assert container(by(base, "Job")["spider-topics"])["args"] == ["topics", "create"]
    for config in (CollectorConfig, ConverterConfig):
        kafka = load_settings(config).kafka
        assert (kafka.replication_factor, kafka.min_insync_replicas) == (3, 2)


def test_image_is_pinned_to_this_release(manifests):
    _, docs = manifests
    images = {c["image"] for spec in pod_specs(docs).values() for c in spec["containers"]}
    assert images == {f"spider:{VERSION}"}


def test_long_running_pods_have_startup_probes_and_spread_over_nodes(manifests):
    _, docs = manifests
    for name, deployment in by(docs, "Deployment").items():
        spec = deployment["spec"]["template"]["spec"]
        assert container(deployment)["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}, name
        if name != "spider-collector":
            (spread,) = spec["topologySpreadConstraints"]
            assert spread["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"], name


def test_each_consumer_scales_on_its_own_groups_lag(base, clusters):
    scaled = by(base, "ScaledObject")
    partitions = {spec.name: spec.partitions for spec in topics.TOPICS}
    names = {c.kind: c.name for c in clusters}
    groups = {
        "converter": ConverterConfig.model_fields["group_id"].default,
        "sink-es": f"spider-sink-es-{names['elasticsearch']}",
        "sink-opensearch": f"spider-sink-opensearch-{names['opensearch']}",
        "sink-amq": "spider-sink-amq",
    }
    assert SinkConfig.model_fields["consumer_group_prefix"].default == "spider-sink"
    for service, read in READS.items():
        scaler = scaled[f"spider-{service}"]
        assert scaler["spec"]["scaleTargetRef"]["name"] == f"spider-{service}"
        assert scaler["spec"]["maxReplicaCount"] <= min(partitions[t] for t in read), service
        (trigger,) = scaler["spec"]["triggers"]
        assert trigger["metadata"]["consumerGroup"] == groups[service], service
        assert set(trigger["metadata"]["topic"].split(",")) == {f"spider.{t}" for t in read}, service
        assert trigger["metadata"]["bootstrapServers"] == env_of(base)["SPIDER_KAFKA__BOOTSTRAP_SERVERS"]


def test_converters_read_the_affiliations_the_cronjob_writes(base):
    file = Path(env_of(base)["SPIDER_AFFILIATION_FILE"])
    converter = by(base, "Deployment")["spider-converter"]
    cron = by(base, "CronJob")["spider-affiliations"]
    claims = {}
    for workload in (converter, cron):
        spec = pod_specs([workload])[workload["metadata"]["name"]]
        mount = next(m for m in container(workload)["volumeMounts"] if m["mountPath"] == str(file.parent))
        volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
        claims[workload["kind"]] = (volume["persistentVolumeClaim"]["claimName"], mount.get("readOnly", False))
    assert claims == {"Deployment": ("spider-affiliations", True), "CronJob": ("spider-affiliations", False)}
    assert container(cron)["args"] == ["affiliations", "refresh"]
    assert "spider-affiliations" in by(base, "PersistentVolumeClaim")


def test_collector_authenticates_to_htcondor_with_the_mounted_token(manifests):
    _, docs = manifests
    collector = next(
        d for d in docs if d["metadata"]["name"] == "spider-collector" and d["kind"] != "PodDisruptionBudget"
    )
    spider = container(collector)
    env = {e["name"]: e["value"] for e in spider["env"]}
    assert env["CONDOR_CONFIG"] == "ONLY_ENV"
    assert "IDTOKENS" in env["_CONDOR_SEC_CLIENT_AUTHENTICATION_METHODS"]
    mounts = {m["mountPath"]: m["name"] for m in spider["volumeMounts"]}
    volume = next(v for v in pod_specs([collector])["spider-collector"]["volumes"] if v["name"] == mounts[
        env["_CONDOR_SEC_TOKEN_DIRECTORY"]])  # fmt: skip
    assert volume["secret"]["secretName"] == "spider-condor-token"


def test_network_policy_covers_every_pod_and_admits_only_metrics_scrapes(manifests):
    _, docs = manifests
    (policy,) = by(docs, "NetworkPolicy").values()
    selector = policy["spec"]["podSelector"]["matchLabels"]
    for name, workload in ((d["metadata"]["name"], d) for d in docs if d["kind"] in ("Deployment", "Job", "CronJob")):
        template = workload["spec"]["jobTemplate"]["spec"]["template"] if workload["kind"] == "CronJob" else workload[
            "spec"]["template"]  # fmt: skip
        assert selector.items() <= template["metadata"]["labels"].items(), name
    (ingress,) = policy["spec"]["ingress"]
    assert ingress["ports"] == [{"protocol": "TCP", "port": int(env_of(docs)["SPIDER_METRICS_PORT"])}]
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}


def test_metrics_service_selects_long_running_pods_for_prometheus(manifests):
    _, docs = manifests
    service = by(docs, "Service")["spider-metrics"]
    assert service["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    for deployment in by(docs, "Deployment").values():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == "9100"
