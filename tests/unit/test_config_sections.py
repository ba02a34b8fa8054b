"""The TOML file serves every service: each reads the top-level keys and its own table, whatever else is imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from services.common.config import SpiderSettings, load_settings
from services.common.errors import ConfigError

ONE_FILE_FOR_ALL = """\
workdir = "/srv/spider"
collectors_file = "etc/pools.json"
es_conf_file = "etc/clusters.json"
affiliation_file = "/var/cache/affiliations.json"
monit_schema_file = "JobMonitoring.json"
[kafka]
topic_prefix = "prod."
[collector]
max_workers = 4
[converter]
concurrency = 3
[sinks]
batch_size = 500
[sinks.amq]
hosts = ["mb1.cern.ch:61313", "mb2.cern.ch:61313"]
"""


@pytest.mark.parametrize(
    ("module", "cls", "expected"),
    [
        ("services.sinks.config", "SinkConfig", "(cfg.batch_size, cfg.es_conf_file.name, cfg.amq.hosts[1])"),
        ("services.converter.config", "ConverterConfig", "(cfg.concurrency, str(cfg.affiliation_file))"),
        ("services.collector.config", "CollectorConfig", "(cfg.max_workers, cfg.collectors_file.name)"),
    ],
)
def test_a_service_loads_the_shared_file_with_no_other_service_config_imported(tmp_path, module, cls, expected):
    """The sections were once found among the imported config classes: a sink alone failed on [converter]."""
    config = tmp_path / "spider.toml"
    config.write_text(ONE_FILE_FOR_ALL)
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from services.common.config import load_settings
        from {module} import {cls}
        others = {{"services.sinks.config", "services.converter.config", "services.collector.config"}} - {{"{module}"}}
        assert not others & set(sys.modules), others & set(sys.modules)
        cfg = load_settings({cls}, Path({str(config)!r}))
        print(cfg.kafka.topic_prefix, {expected})
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout.strip()
    assert (
        out
        == {
            "SinkConfig": "prod. (500, 'clusters.json', 'mb2.cern.ch:61313')",
            "ConverterConfig": "prod. (3, '/var/cache/affiliations.json')",
            "CollectorConfig": "prod. (4, 'pools.json')",
        }[cls]
    )


def test_each_service_has_only_the_reference_files_it_reads():
    from services.collector.config import CollectorConfig
    from services.converter.config import ConverterConfig
    from services.sinks.config import SinkConfig

    files = {cls.section: set(cls().reference_files()) for cls in (CollectorConfig, ConverterConfig, SinkConfig)}
    assert files == {
        "collector": {"collectors_file", "checkpoint_file"},
        "converter": {"affiliation_file"},
        "sinks": {"es_conf_file", "amq_username_file", "amq_password_file"},
    }


def test_a_misspelt_top_level_key_is_still_refused(tmp_path):
    from services.sinks.config import SinkConfig

    config = tmp_path / "spider.toml"
    config.write_text('es_conf_fle = "etc/es_conf.json"\n')
    with pytest.raises(ConfigError, match="es_conf_fle"):
        load_settings(SinkConfig, config)


def test_a_service_config_with_an_unregistered_table_is_refused_at_definition():
    with pytest.raises(TypeError, match="not registered"):

        class Exporter(SpiderSettings):
            section = "exporter"
