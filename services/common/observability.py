"""The operations port of every service: /metrics for Prometheus, /healthz and /readyz for orchestrators.

Liveness and readiness are separate on purpose: a service that lost Kafka is alive (restarting it will not
help) but not ready (it should get no traffic and should show up red). The server runs in a daemon thread so
it never keeps a stopping service alive and never blocks the pipeline.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
from prometheus_client import REGISTRY, CollectorRegistry, Gauge
from prometheus_client.exposition import choose_encoder

from services.common import version

log = logging.getLogger(__name__)

Readiness = Callable[[], bool | str]
"""True when ready; False or a short reason (str) when not."""

BUILD_INFO = Gauge(
    "spider_build_info",
    "Always 1; labels say which build and service this process runs",
    ["service", "version", "git_hash"],
)


def check_ready(ready: Readiness) -> tuple[bool, str]:
    """Run the readiness callable; a crashing check means "not ready", named by its exception type only
    (exception messages can carry URLs with credentials)."""
    try:
        result = ready()
    except Exception as exc:
        return False, f"readiness check failed: {type(exc).__name__}"
    if result is True:
        return True, "ready"
    if isinstance(result, str) and result:
        return False, result
    return False, "not ready"


class _Handler(BaseHTTPRequestHandler):
    server: _OpsHTTPServer
    server_version = "spider"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._reply(HTTPStatus.OK, encoder(self.server.registry), content_type)
        elif path == "/healthz":
            self._json(HTTPStatus.OK, {"status": "alive"})
        elif path == "/readyz":
            ok, reason = check_ready(self.server.ready)
            status = HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE
            self._json(status, {"status": "ready" if ok else "not ready", "reason": reason})
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found", "paths": ["/metrics", "/healthz", "/readyz"]})

    def _json(self, status: HTTPStatus, body: dict[str, str | list[str]]) -> None:
        self._reply(status, orjson.dumps(body) + b"\n", "application/json")

    def _reply(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Probes hit these paths every few seconds; keep them out of the service log."""


class _OpsHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], ready: Readiness, registry: CollectorRegistry) -> None:
        super().__init__(address, _Handler)
        self.ready = ready
        self.registry = registry


class Server:
    """A running operations server; `close()` stops it (tests, clean shutdown)."""

    def __init__(self, httpd: _OpsHTTPServer) -> None:
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="spider-ops-http", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        host = self._httpd.server_address[0]
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{self.port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def serve(
    port: int | None,
    ready: Readiness,
    *,
    service: str = "spider",
    host: str = "0.0.0.0",
    registry: CollectorRegistry = REGISTRY,
) -> Server | None:
    """Start the operations server on `port` (0: any free port; None: off) and publish spider_build_info."""
    BUILD_INFO.labels(service=service, version=version.package_version(), git_hash=version.git_hash()).set(1)
    if port is None:
        return None
    server = Server(_OpsHTTPServer((host, port), ready, registry))
    log.info("metrics and probes on %s/metrics, /healthz, /readyz", server.url, extra={"port": server.port})
    return server
