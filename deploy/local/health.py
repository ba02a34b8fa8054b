"""Health probes, each answering "is the server usable by a client right now" with a short reason."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import urllib.request

import stomp
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from services.common import kafka as kafka_clients
from services.common.config import KafkaSettings


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def kafka(bootstrap: str, settings: dict[str, str] | None = None, timeout: float = 3.0) -> tuple[bool, str]:
    """Healthy when a broker answers a metadata request and a group coordinator answers (a just-started Kafka
    creates its offsets topic first and answers "Not coordinator" meanwhile); `settings`: librdkafka security."""
    admin = AdminClient(
        {"bootstrap.servers": bootstrap, "log_level": 0, "socket.connection.setup.timeout.ms": 2000, **(settings or {})}
    )
    try:
        brokers = kafka_clients.ready(admin, KafkaSettings(bootstrap_servers=bootstrap), timeout)
    except kafka_clients.KafkaUnavailable as exc:
        return False, str(exc)
    except KafkaException as exc:
        return False, f"group coordinator: {exc.args[0].str()}"
    return True, f"{brokers} broker(s), group coordinator ready"


def search(
    url: str,
    distribution: str,
    context: ssl.SSLContext | None = None,
    auth: tuple[str, str] | None = None,
    timeout: float = 3.0,
) -> tuple[bool, str]:
    """Healthy when `_cluster/health` is yellow or green on a server of the expected distribution.

    Elasticsearch marks every answer with an X-Elastic-Product header, OpenSearch never does; the integ-test
    Elasticsearch has no `GET /`, so the version comes from the local node's info. `context` and `auth`: the
    CA and the basic-auth login of an HTTPS endpoint.
    """
    headers = {}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()

    def get(path: str):
        return urllib.request.urlopen(
            urllib.request.Request(url + path, headers=headers), timeout=timeout, context=context
        )

    try:
        with get("/_cluster/health") as resp:
            health = json.load(resp)
            found = "elasticsearch" if resp.headers.get("X-Elastic-Product") else "opensearch"
        with get("/_nodes/_local?filter_path=nodes.*.version") as resp:
            versions = [node["version"] for node in json.load(resp)["nodes"].values()]
    except (OSError, ValueError, KeyError) as exc:
        return False, f"no answer: {exc}"
    if found != distribution:
        return False, f"port answers as {found}, not {distribution}"
    status = health.get("status")
    return status in ("yellow", "green"), f"{distribution} {', '.join(versions)}, cluster {status}"


def stomp_broker(
    host: str, port: int, ca_certs: str | None = None, login: tuple[str, str] | None = None, timeout: float = 3.0
) -> tuple[bool, str]:
    """Healthy when a STOMP CONNECT is answered with CONNECTED (over TLS verified with `ca_certs` if given)."""
    conn = stomp.Connection([(host, port)], reconnect_attempts_max=1, timeout=timeout)
    if ca_certs is not None:
        conn.set_ssl(for_hosts=[(host, port)], ca_certs=ca_certs)
    credentials = {"username": login[0], "passcode": login[1]} if login else {}
    try:
        conn.connect(wait=True, headers={"client-id": "spider-stack-probe"}, **credentials)
    except (stomp.exception.StompException, OSError) as exc:
        return False, f"no CONNECTED frame: {exc!r}"
    conn.disconnect()
    return True, "STOMP CONNECTED"
