"""Test helpers for ActiveMQ: a private broker a test may stop and restart, and a STOMP subscriber.

The shared broker of the local stack must never be stopped by a test, so outage tests run their own Debian
`activemq` instance (STOMP only, KahaDB in a temporary directory, so persistent messages survive restarts).
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import orjson
import stomp

from deploy.demo.processes import free_port

ACTIVEMQ_JAR = Path("/usr/share/activemq/bin/activemq.jar")

_CONFIG = """<beans xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans
  http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="test-{port}" useJmx="false"
          dataDirectory="{data}">
    <persistenceAdapter><kahaDB directory="{data}/kahadb"/></persistenceAdapter>
    <transportConnectors>
      <transportConnector name="stomp" uri="stomp://127.0.0.1:{port}"/>
    </transportConnectors>
  </broker>
</beans>
"""


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class PrivateBroker:
    """A foreground ActiveMQ JVM on its own port; `stop()` kills it, `start()` brings it back with its data."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        (base / "conf").mkdir(parents=True, exist_ok=True)
        self.config = base / "conf" / "activemq.xml"
        self.config.write_text(_CONFIG.format(port=self.port, data=base / "data"))

    def start(self, timeout: float = 60) -> None:
        self.proc = subprocess.Popen(
            [
                "java",
                "-Xms64M",
                "-Xmx256M",
                f"-Dactivemq.home={ACTIVEMQ_JAR.parents[1]}",
                f"-Dactivemq.base={self.base}",
                f"-Dactivemq.conf={self.base / 'conf'}",
                f"-Dactivemq.data={self.base / 'data'}",
                "-jar",
                str(ACTIVEMQ_JAR),
                "start",
                f"xbean:file:{self.config}",
            ],
            stdout=(self.base / "broker.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private ActiveMQ did not start; see {self.base / 'broker.log'}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self.proc = None


class Subscriber:
    """Collects every message of one destination (JSON bodies and headers) from a background STOMP connection."""

    def __init__(
        self,
        port: int,
        destination: str,
        host: str = "127.0.0.1",
        ca_certs: Path | None = None,
        login: dict | None = None,
    ) -> None:
        """`ca_certs`: connect over TLS verified with this CA; `login`: {"username": ..., "passcode": ...}."""
        self.messages: list[tuple[dict, dict]] = []
        self._cond = threading.Condition()
        self.conn = stomp.Connection12([(host, port)], heartbeats=(0, 0))
        if ca_certs is not None:
            self.conn.set_ssl(for_hosts=[(host, port)], ca_certs=str(ca_certs))
        self.conn.set_listener("collect", self)
        self.conn.connect(wait=True, **(login or {}))
        self.conn.subscribe(destination, id="test", ack="auto")
        time.sleep(0.3)  # the SUBSCRIBE has no receipt here; give the broker a moment before anyone sends

    def on_message(self, frame) -> None:
        with self._cond:
            self.messages.append((dict(frame.headers), orjson.loads(frame.body)))
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 30) -> list[tuple[dict, dict]]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < count and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            return list(self.messages)

    def ids(self) -> set[str]:
        with self._cond:
            return {body["metadata"]["_id"] for _, body in self.messages}

    def close(self) -> None:
        if self.conn.is_connected():
            self.conn.disconnect()
