"""`spider stack up --kafka-brokers 3`: a replicated KRaft cluster of its own, beside the single broker that other
people use, never instead of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local.config import load_stack_config
from deploy.local.servers import all_servers
from deploy.local.stack import select
from services.common.errors import ConfigError


def properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


def test_three_nodes_on_their_own_ports_and_state(tmp_path: Path):
    cfg = load_stack_config(dir=tmp_path, kafka_brokers=3, port_offset=0)
    single = load_stack_config(dir=tmp_path, port_offset=0)

    assert cfg.endpoints()["kafka"] == "127.0.0.1:9192,127.0.0.1:9193,127.0.0.1:9194"
    assert cfg.state_dir == tmp_path / "kafka-3" != single.state_dir
    assert [s.name for s in select(cfg, ["kafka"])] == ["kafka-1", "kafka-2", "kafka-3"]
    ports = [port for server in select(cfg, ["kafka"]) for port in server.ports()]
    assert len(set(ports)) == 6
    assert not set(ports) & set(select(single, ["kafka"])[0].ports())  # 9092/9093 stay the single broker's


def test_every_node_votes_and_kafkas_own_topics_are_replicated(tmp_path: Path):
    cfg = load_stack_config(dir=tmp_path, kafka_brokers=3, port_offset=0)
    nodes = [properties(server.properties()) for name, server in all_servers(cfg).items() if name.startswith("kafka")]

    assert [n["node.id"] for n in nodes] == ["1", "2", "3"]
    assert {n["controller.quorum.voters"] for n in nodes} == {"1@127.0.0.1:9292,2@127.0.0.1:9293,3@127.0.0.1:9294"}
    for node in nodes:
        assert node["process.roles"] == "broker,controller"
        assert (node["offsets.topic.replication.factor"], node["transaction.state.log.min.isr"]) == ("3", "2")
        assert node["auto.create.topics.enable"] == "false"
    assert len({n["log.dirs"] for n in nodes}) == 3


def test_the_secure_stack_has_one_broker(tmp_path: Path):
    with pytest.raises(ConfigError, match="--secure and --kafka-brokers exclude each other"):
        load_stack_config(dir=tmp_path, kafka_brokers=3, secure=True)
