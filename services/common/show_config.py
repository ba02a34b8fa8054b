"""`spider config show`: the effective configuration of each service, secrets masked."""

from __future__ import annotations

from typing import Any

from services.common.config import SpiderSettings, read_json, read_secret
from services.common.errors import ConfigError

MASK = "**********"


def reference_files_report(settings: SpiderSettings) -> dict[str, Any]:
    """What each reference-layout file holds; a malformed file raises ConfigError, a missing one is noted."""
    files = settings.reference_files()
    report: dict[str, Any] = {}
    for name, path in files.items():
        report[name] = {"path": str(path), "present": path.exists()}
    if files["collectors_file"].exists():
        report["collectors_file"]["pools"] = settings.collectors()
    if files["es_conf_file"].exists():
        report["es_conf_file"]["clusters"] = [
            c.model_dump(mode="json") | {"url": c.url} for c in settings.es_clusters()
        ]
    if files["amq_username_file"].exists():
        report["amq_username_file"]["value"] = read_secret(files["amq_username_file"]).get_secret_value()
    if files["amq_password_file"].exists():
        read_secret(files["amq_password_file"])
        report["amq_password_file"]["value"] = MASK
    for name in ("checkpoint_file", "monit_schema_file", "affiliation_file"):
        if files[name].exists():
            data = read_json(files[name])
            report[name]["entries"] = len(data) if isinstance(data, dict | list) else None
    return report


def effective(settings: SpiderSettings) -> dict[str, Any]:
    """The config as the service sees it; SecretStr fields dump as a mask in JSON mode."""
    return settings.model_dump(mode="json")


def show(services: dict[str, SpiderSettings]) -> dict[str, Any]:
    if not services:
        raise ConfigError("no service selected")
    first = next(iter(services.values()))
    return {
        "services": {name: effective(cfg) for name, cfg in services.items()},
        "reference_files": reference_files_report(first),
    }
