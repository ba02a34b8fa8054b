"""The Grafana dashboard and the Prometheus alert rules use only metrics and labels the services register, and
every alert fires and stays silent as its promtool cases say."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

import services

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "spider.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yaml"
METRIC = re.compile(r"\bspider_[a-z0-9_]+")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "stateset": ("",),
    "enum": ("",),
}


@pytest.fixture(scope="module")
def exposed() -> set[str]:
    """Every series name the services can expose, read from prometheus_client's registry after importing
    all of services.* (metrics register at import). Label-only metrics have no samples yet, so names are
    derived from each family's type the way the exposition format writes them."""
    for module in pkgutil.walk_packages(services.__path__, "services."):
        importlib.import_module(module.name)
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in SUFFIXES.get(family.type, ("",))
        if family.name.startswith("spider_")
    }


def dashboard_exprs() -> list[str]:
    def walk(panels: list[dict]) -> list[dict]:
        return [q for p in panels for q in [*p.get("targets", []), *walk(p.get("panels", []))]]

    return [t["expr"] for t in walk(json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"])]


def alert_rules() -> list[dict]:
    return [r for g in yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"] for r in g["rules"]]


def test_dashboard_uses_only_registered_metrics(exposed):
    used = {name for expr in dashboard_exprs() for name in METRIC.findall(expr)}
    assert used, "the dashboard queries no spider metric"
    assert sorted(used - exposed) == [], "metrics in deploy/grafana/spider.json that no service registers"


def test_alert_rules_use_only_registered_metrics(exposed):
    used = {name for rule in alert_rules() for name in METRIC.findall(rule["expr"])}
    assert sorted(used - exposed) == [], "metrics in deploy/prometheus/alerts.yaml that no service registers"


def test_alerts_cover_stale_schedds_growing_lag_dead_letters_and_targets_down():
    rules = {r["alert"]: r for r in alert_rules()}
    assert {"SpiderScheddNotPolled", "SpiderSinkLagGrowing", "SpiderSinkDeadLetterRate", "SpiderTargetDown"} <= set(
        rules
    )
    assert "3 * 720" in rules["SpiderScheddNotPolled"]["expr"]
    assert rules["SpiderSinkLagGrowing"]["for"] == "15m"
    assert all(
        r["labels"]["severity"] in ("warning", "critical") and r["annotations"]["summary"] for r in rules.values()
    )


def test_dashboard_panels_have_unique_ids_and_use_the_datasource_variable():
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource"]
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


# Labels Prometheus adds when it scrapes (deploy/prometheus/scrape.yaml), and `le` of histogram buckets.
SCRAPE_LABELS = {"job", "instance", "app", "pod", "namespace"}
ALERT_TESTS = ALERTS.with_name("alerts.test.yaml")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")
MATCHER = re.compile(r"\{([^}]*)\}")
TEMPLATE_LABEL = re.compile(r"\$labels\.([a-zA-Z_]\w*)|\{\{\s*([a-zA-Z_]\w*)\s*\}\}")


@pytest.fixture(scope="module")
def labels(exposed) -> dict[str, set[str]]:
    """Series name -> the label names the code gives it. prometheus_client lists its collectors and their
    label names only in private attributes (_collector_to_names, _labelnames)."""
    found: dict[str, set[str]] = {}
    for collector, names in REGISTRY._collector_to_names.items():
        for name in (n for n in names if n in exposed):
            found[name] = set(getattr(collector, "_labelnames", ())) | ({"le"} if name.endswith("_bucket") else set())
    return found


def used_labels(expr: str) -> set[str]:
    grouped = {label.strip() for group in GROUPING.findall(expr) for label in group.split(",") if label.strip()}
    matched = {m.split("=")[0].strip("!~ ") for group in MATCHER.findall(expr) for m in group.split(",") if "=" in m}
    return grouped | matched


def unexported(expr: str, extra: set[str], labels: dict[str, set[str]]) -> list[str]:
    """Labels the expression (or its legend/annotations: `extra`) needs that some spider metric in it lacks."""
    metrics = set(METRIC.findall(expr))
    wanted = (used_labels(expr) | extra) - SCRAPE_LABELS
    return sorted(f"{m}: {label}" for m in metrics for label in wanted if label not in labels.get(m, set()))


def test_dashboard_groups_and_legends_use_only_exported_labels(labels):
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))

    def targets(panels: list[dict]) -> list[dict]:
        return [t for p in panels for t in [*p.get("targets", []), *targets(p.get("panels", []))]]

    problems = {}
    for target in targets(board["panels"]):
        legend = {a or b for a, b in TEMPLATE_LABEL.findall(target.get("legendFormat") or "")}
        if found := unexported(target["expr"], legend, labels):
            problems[target["expr"]] = found
    assert problems == {}


def test_alerts_group_and_template_only_exported_labels(labels):
    problems = {}
    for rule in alert_rules():
        templated = {a or b for text in rule.get("annotations", {}).values() for a, b in TEMPLATE_LABEL.findall(text)}
        if found := unexported(rule["expr"], templated - {"value"}, labels):
            problems[rule["alert"]] = found
    assert problems == {}


def test_alert_test_series_carry_only_exported_labels(labels):
    """The promtool cases would prove nothing with series shaped unlike the real ones."""
    tests = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))["tests"]
    problems = []
    for series in (s["series"] for t in tests for s in t["input_series"]):
        name, _, rest = series.partition("{")
        given = {pair.split("=")[0] for pair in rest.rstrip("}").split(",") if pair}
        if name.startswith("spider_") and not given - SCRAPE_LABELS <= labels.get(name, set()):
            problems.append(series)
    assert problems == []


def test_every_alert_has_a_firing_and_a_silent_promtool_case():
    tests = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))["tests"]
    cases = [case for t in tests for case in t["alert_rule_test"]]
    for alert in (rule["alert"] for rule in alert_rules()):
        outcomes = {bool(c["exp_alerts"]) for c in cases if c["alertname"] == alert}
        assert outcomes == {True, False}, alert


def test_promtool_runs_the_alert_cases():
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: scripts/test installs it (Debian package prometheus)"
    result = subprocess.run([promtool, "test", "rules", ALERT_TESTS.name], cwd=ALERTS.parent, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
