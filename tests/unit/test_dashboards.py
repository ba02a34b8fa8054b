"""The Grafana dashboard and the Prometheus alert rules use only metrics the services register."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
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
