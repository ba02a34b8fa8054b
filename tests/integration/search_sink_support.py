"""Shared pieces of the Elasticsearch/OpenSearch sink tests and benchmark: documents, publishing, the runner
in a thread, a TCP proxy whose port can be closed to simulate a cluster outage."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Producer

from services.common import document_message, topics
from services.common.config import ClusterConfig, KafkaSettings
from services.common.search_clients import client
from services.sinks import elasticsearch, opensearch
from services.sinks.config import SinkConfig
from services.sinks.runner import SinkRunner, Target

from .kafka_helpers import STACK

PORTS = {kind: STACK.port(kind) for kind in ("elasticsearch", "opensearch")}
FACTORIES = {"elasticsearch": elasticsearch.targets, "opensearch": opensearch.targets}
SHORT = {"elasticsearch": "es", "opensearch": "opensearch"}


@dataclass
class Doc:
    id: str
    index_date: str
    source: str
    body: dict


def job_doc(n: int, *, source: str = "condor_history", day: int = 0, **overrides) -> Doc:
    """A converted history (or queue) document shaped like the converter's output."""
    qdate = 1709596800 + day * 86400 + n % 3600  # 2024-03-05T00:00:00Z + day
    record_time = qdate + 7200
    global_job_id = f"vocms0255.cern.ch#{4000000 + n}.0#{qdate}"
    body = {
        "GlobalJobId": global_job_id,
        "RecordTime": record_time,
        "QDate": qdate,
        "CompletionDate": record_time,
        "JobStatus": 4,
        "Status": "Completed",
        "Site": "T2_CH_CERN",
        "RequestCpus": 4,
        "CpuEff": 87.5,
        "CoreHr": 8.0,
        "HasSingularity": True,
        "Args": "--config run.py --events 1000",
        "CMSSW_Version": "CMSSW_13_0_17",
        "metadata": {"spider_source": source, "spider_git_hash": "0123456789ab", "spider_runtime": 1709600000123},
        **overrides,
    }
    return Doc(f"{global_job_id}#{record_time}", time.strftime("%Y-%m-%d", time.gmtime(qdate)), source, body)


def publish(kafka: KafkaSettings, docs: list[Doc], topic: str = topics.DOCS_HISTORY) -> None:
    producer = Producer({**kafka.client_config(), "linger.ms": 20})
    for doc in docs:
        key, value, headers = document_message.encode(doc, git_hash="0123456789ab")
        while True:
            try:
                producer.produce(kafka.topic(topic), value, key, headers=headers)
                break
            except BufferError:
                producer.poll(0.2)
    assert producer.flush(60) == 0


def write_es_conf(workdir: Path, kind: str, name: str, port: int) -> None:
    (workdir / "etc").mkdir(parents=True, exist_ok=True)
    entry = {"name": name, "kind": kind, "host": "127.0.0.1", "port": port, "scheme": "http"}
    (workdir / "etc" / "es_conf.json").write_text(json.dumps([entry]))


def sink_config(kafka: KafkaSettings, workdir: Path, prefix: str, **overrides) -> SinkConfig:
    values = {
        "workdir": workdir,
        "kafka": kafka,
        "consumer_group_prefix": f"t-{uuid.uuid4().hex[:8]}-sink",
        "index_template": prefix,
        "linger_s": 0.2,
        "backoff_base_s": 0.2,
        "backoff_max_s": 2.0,
        "number_of_replicas": 0,
        **overrides,
    }
    return SinkConfig(**values)


def search_client(kind: str, port: int | None = None):
    return client(ClusterConfig(name=kind, kind=kind, host="127.0.0.1", port=port or PORTS[kind], scheme="http"))


def shards_starting(exc: Exception) -> bool:
    """The 503 a search gets in the moment after a sink created an index, before its primary shard started."""
    status = getattr(getattr(exc, "meta", None), "status", None) or getattr(exc, "status_code", None)
    return status == 503


def count(search, prefix: str) -> int:
    """Documents searchable in the test's indices; 0 while a just-created index cannot be searched yet."""
    try:
        search.indices.refresh(index=f"{prefix}-*")
        result = search.count(index=f"{prefix}-*")
    except Exception as exc:
        if shards_starting(exc):
            return 0
        raise
    return int(result["count"])


def cleanup(search, prefix: str) -> None:
    search.indices.delete(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True)
    if search.indices.exists_index_template(name=prefix):
        search.indices.delete_index_template(name=prefix)


@contextmanager
def running(config: SinkConfig, kind: str, cluster: str) -> Iterator[SinkRunner]:
    """The sink runner of one cluster in a thread; stopped (gracefully) on exit."""
    [target] = FACTORIES[kind](config, cluster)
    with running_target(config, target) as runner:
        yield runner


@contextmanager
def running_target(config: SinkConfig, target: Target) -> Iterator[SinkRunner]:
    """The sink runner of any target in a thread; stopped (gracefully) on exit."""
    runner = SinkRunner(target, config)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            runner.run()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield runner
    finally:
        runner.stop()
        thread.join(60)
        assert not thread.is_alive(), "the runner did not stop"
        assert not errors, errors


def wait_for(condition, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class TcpProxy:
    """A port forwarding to a cluster; `close()` refuses new connections and cuts open ones (an outage)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def close(self) -> None:
        if self._server is not None:
            with suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)  # wakes the accept() thread on Linux
            self._server.close()
            self._server = None
        with self._lock:
            for conn in self._conns:
                with suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                downstream, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                downstream.close()
                continue
            with self._lock:
                self._conns += [downstream, upstream]
            for a, b in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def local_cluster(name: str, kind: str, port: int | None = None) -> dict[str, object]:
    """An es_conf.json entry for a search server on this machine (the stack's port unless given)."""
    return {"name": name, "kind": kind, "host": "127.0.0.1", "port": port or PORTS[kind], "scheme": "http"}


def write_workdir(
    workdir: Path, kafka: KafkaSettings, prefix: str, clusters: list[dict], *, sinks: str = "", sections: str = ""
) -> None:
    """A working directory for `spider` service processes: etc/es_conf.json with `clusters`; spider.toml with the
    Kafka settings, a private sink group and one-shard indices named after `prefix`, then `sinks` (more lines
    of the [sinks] table) and `sections` (other tables)."""
    (workdir / "etc").mkdir(parents=True, exist_ok=True)
    (workdir / "etc" / "es_conf.json").write_text(json.dumps(clusters))
    (workdir / "spider.toml").write_text(
        f"""\
[kafka]
bootstrap_servers = "{kafka.bootstrap_servers}"
topic_prefix = "{kafka.topic_prefix}"

[sinks]
consumer_group_prefix = "t-{uuid.uuid4().hex[:8]}-sink"
index_template = "{prefix}"
number_of_shards = 1
number_of_replicas = 0
linger_s = 0.2
{sinks}
{sections}"""
    )
