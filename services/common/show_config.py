"""`spider config show`: the effective configuration of each service, secrets masked."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from services.common.config import SpiderSettings, load_collectors, load_es_clusters, read_json, read_secret
from services.common.errors import ConfigError

MASK = "**********"


def reference_files_report(services: Iterable[SpiderSettings]) -> dict[str, Any]:
    """What each reference-layout file of the services holds; a malformed file raises ConfigError, a missing one
    is noted."""
    files = {name: path for settings in services for name, path in settings.reference_files().items()}
    report: dict[str, Any] = {name: {"path": str(path), "present": path.exists()} for name, path in files.items()}
    present = {name for name, path in files.items() if path.exists()}
    if "collectors_file" in present:
        report["collectors_file"]["pools"] = load_collectors(files["collectors_file"])
    if "es_conf_file" in present:
        clusters = load_es_clusters(files["es_conf_file"])
        report["es_conf_file"]["clusters"] = [c.model_dump(mode="json") | {"url": c.url} for c in clusters]
    if "amq_username_file" in present:
        report["amq_username_file"]["value"] = read_secret(files["amq_username_file"]).get_secret_value()
    if "amq_password_file" in present:
        read_secret(files["amq_password_file"])
        report["amq_password_file"]["value"] = MASK
    for name in present & {"checkpoint_file", "affiliation_file"}:
        data = read_json(files[name])
        report[name]["entries"] = len(data) if isinstance(data, dict | list) else None
    return report


def effective(settings: SpiderSettings) -> dict[str, Any]:
    """The config as the service sees it; SecretStr fields dump as a mask in JSON mode."""
    return settings.model_dump(mode="json")


def show(services: dict[str, SpiderSettings], every: Iterable[SpiderSettings]) -> dict[str, Any]:
    """The selected services' settings, and the reference-layout files of `every` service (they share them)."""
    if not services:
        raise ConfigError("no service selected")
    return {
        "services": {name: effective(cfg) for name, cfg in services.items()},
        "reference_files": reference_files_report(every),
    }
