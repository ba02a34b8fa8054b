"""The ActiveMQ (CERN MONIT) target: documents as MONIT notifications over STOMP 1.2, every SEND confirmed.

Each SEND carries a receipt header and `write` returns only once the broker acknowledged every message of the
batch, so the runner commits Kafka offsets only for what the broker holds. Any doubt (broker down, ERROR
frame, lost connection, missing receipt) fails the whole batch with TargetUnavailable and the runner resends
it: delivery is at least once, and MONIT consumers deduplicate on `metadata._id`.

With `amq.tls` the broker's certificate is verified (against `amq.ca_certs`, else the system's CA bundle) and its
host name checked. A failed connection is reported once per outage by the runner, with its cause (refused,
untrusted certificate, host name not in the certificate, login refused), never with the credentials.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
import stomp
from prometheus_client import Counter
from pydantic import SecretStr

import schemas
from services.common import tls_errors, version
from services.common.config import read_secret, readable
from services.common.document_message import DocMessage
from services.common.errors import ConfigError
from services.sinks import monit
from services.sinks.config import AmqSettings, SinkConfig
from services.sinks.errors import Rejection, TargetUnavailable

log = logging.getLogger(__name__)

VALIDATION_FAILURES = Counter(
    "spider_sink_monit_validation_failures",
    "MONIT bodies with fields of the wrong type, by the action the validation policy took",
    ["action"],
)
CONNECTS = Counter(
    "spider_sink_amq_connects", "Connection attempts to ActiveMQ brokers, by outcome (ok, failed)", ["outcome"]
)


class BrokerUnavailable(Exception):
    """No broker took the messages; the message names hosts and causes, never credentials."""


class _ConnectFailures(logging.Filter):
    """stomp.py logs every failed connection attempt as a warning and then raises an exception without its cause:
    keep the cause, by broker, for the sender's report, and drop the per-attempt warning."""

    def __init__(self) -> None:
        super().__init__()
        self.last: dict[tuple[str, int], BaseException] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if str(record.msg).startswith("could not connect to host") and isinstance(args, tuple) and len(args) == 3:
            host, port, error = args
            if isinstance(error, BaseException):
                self.last[(host, port)] = error
                return False
        return True

    def cause(self, host: str, port: int) -> str | None:
        error = self.last.pop((host, port), None)
        return None if error is None else tls_errors.cause(error) or str(error)


_CONNECT_FAILURES = _ConnectFailures()
logging.getLogger("stomp.py").addFilter(_CONNECT_FAILURES)


@dataclass(frozen=True)
class Credentials:
    username: SecretStr | None = None
    password: SecretStr | None = None

    @classmethod
    def from_files(cls, username_file: Path, password_file: Path) -> Credentials:
        """Both files, or neither (anonymous / client-certificate login); never only one of them."""
        present = [p.exists() for p in (username_file, password_file)]
        if not any(present):
            return cls()
        if not all(present):
            missing = username_file if not present[0] else password_file
            raise ConfigError("ActiveMQ credentials need both the username and the password file", missing)
        return cls(read_secret(username_file), read_secret(password_file))

    def redact(self, text: str) -> str:
        """Broker error messages may quote the login name; keep it out of logs."""
        if self.username is not None:
            text = text.replace(self.username.get_secret_value(), "***")
        return text


class _Listener(stomp.ConnectionListener):
    """Collects CONNECTED, RECEIPT, ERROR and disconnect events of one connection for the sending thread."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.connected = False
        self.lost = False
        self.error: str | None = None
        self.receipts: set[str] = set()

    def _set(self, **changes: object) -> None:
        with self.cond:
            for name, value in changes.items():
                setattr(self, name, value)
            self.cond.notify_all()

    def on_connected(self, frame: stomp.utils.Frame) -> None:
        self._set(connected=True)

    def on_receipt(self, frame: stomp.utils.Frame) -> None:
        with self.cond:
            self.receipts.add(frame.headers.get("receipt-id", ""))
            self.cond.notify_all()

    def on_error(self, frame: stomp.utils.Frame) -> None:
        self._set(error=frame.headers.get("message") or "ERROR frame without message")

    def on_disconnected(self) -> None:
        self._set(lost=True)

    def wait_for(self, done, timeout: float) -> bool:
        """Wait until done() holds; False on timeout, error or lost connection."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not done():
                if self.error is not None or self.lost:
                    return False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(remaining)
        return True


def parse_brokers(hosts: Sequence[str]) -> list[tuple[str, int]]:
    """ "host:port" strings -> (host, port); the order is the failover order."""
    brokers = []
    for entry in hosts:
        host, sep, port = entry.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ConfigError(f"ActiveMQ broker {entry!r} must be host:port")
        brokers.append((host.strip("[]"), int(port)))
    if not brokers:
        raise ConfigError("no ActiveMQ broker configured (amq.hosts)")
    return brokers


class StompSender:
    """One STOMP 1.2 connection at a time, failing over along the broker list.

    A round in which every broker failed raises BrokerUnavailable at once: the sink runner's retry loop waits
    before the next round (services/common/backoff.py, interrupted by a stop), so there is one wait per failure.

    The runner writes from several threads; batches go through one connection one after the other (a lock),
    which keeps receipt bookkeeping and failover simple; the broker, not this client, bounds throughput.
    """

    def __init__(self, settings: AmqSettings, credentials: Credentials) -> None:
        self.settings = settings
        self.credentials = credentials
        self.brokers = parse_brokers(settings.hosts)
        self._conn: stomp.Connection12 | None = None
        self._listener: _Listener | None = None
        self._next_broker = 0
        self._session = uuid.uuid4().hex[:12]
        self._seq = 0
        self._lock = threading.Lock()

    def _connect_one(self, host: str, port: int) -> tuple[stomp.Connection12, _Listener]:
        s = self.settings
        conn = stomp.Connection12(
            host_and_ports=[(host, port)],
            prefer_localhost=False,
            try_loopback_connect=False,
            reconnect_attempts_max=1,
            timeout=s.connect_timeout_s,
            heartbeats=(s.heartbeat_ms, s.heartbeat_ms),
        )
        if s.tls:
            conn.set_ssl(
                for_hosts=[(host, port)],
                ca_certs=str(s.ca_certs) if s.ca_certs else None,
                cert_file=str(s.client_cert) if s.client_cert else None,
                key_file=str(s.client_key) if s.client_key else None,
            )
        listener = _Listener()
        conn.set_listener("spider", listener)
        login = {}
        if self.credentials.username is not None and self.credentials.password is not None:
            login = {
                "username": self.credentials.username.get_secret_value(),
                "passcode": self.credentials.password.get_secret_value(),
            }
        try:
            conn.connect(wait=False, **login)
        except stomp.exception.StompException as exc:
            raise BrokerUnavailable(
                f"{host}:{port}: {_CONNECT_FAILURES.cause(host, port) or type(exc).__name__}"
            ) from None
        if not listener.wait_for(lambda: listener.connected, s.connect_timeout_s):
            error = listener.error and f"CONNECT refused: {listener.error}"
            reason = self.credentials.redact(error or "no CONNECTED frame in time")
            _close(conn)
            raise BrokerUnavailable(f"{host}:{port}: {reason}")
        return conn, listener

    def _ensure_connected(self) -> tuple[stomp.Connection12, _Listener]:
        if self._conn is not None and self._listener is not None and not self._listener.lost:
            return self._conn, self._listener
        self.close()
        failures = []
        for attempt in range(len(self.brokers)):
            index = (self._next_broker + attempt) % len(self.brokers)
            host, port = self.brokers[index]
            try:
                self._conn, self._listener = self._connect_one(host, port)
            except BrokerUnavailable as exc:
                CONNECTS.labels(outcome="failed").inc()
                failures.append(str(exc))
                continue
            CONNECTS.labels(outcome="ok").inc()
            self._next_broker = index
            log.info("connected to ActiveMQ", extra={"target": "amq", "broker": f"{host}:{port}"})
            return self._conn, self._listener
        self._next_broker = (self._next_broker + 1) % len(self.brokers)
        raise BrokerUnavailable("no ActiveMQ broker reachable: " + "; ".join(failures))

    def send_all(self, destination: str, headers: dict[str, str], bodies: Sequence[bytes]) -> None:
        """Send every body, then wait for all receipts; raise BrokerUnavailable unless the broker took them all."""
        if not bodies:
            return
        with self._lock:
            self._send_locked(destination, headers, bodies)

    def _send_locked(self, destination: str, headers: dict[str, str], bodies: Sequence[bytes]) -> None:
        conn, listener = self._ensure_connected()
        with listener.cond:
            listener.receipts.clear()
        expected = set()
        try:
            for body in bodies:
                self._seq += 1
                receipt = f"{self._session}-{self._seq}"
                expected.add(receipt)
                conn.send(destination=destination, body=body, headers={**headers, "receipt": receipt})
        except (stomp.exception.StompException, OSError) as exc:
            self.close()
            raise BrokerUnavailable(f"send failed: {type(exc).__name__}") from None
        if not listener.wait_for(lambda: expected <= listener.receipts, self.settings.receipt_timeout_s):
            missing = len(expected - listener.receipts)
            reason = self.credentials.redact(listener.error or ("connection lost" if listener.lost else "timeout"))
            self.close()
            raise BrokerUnavailable(f"{missing} of {len(expected)} messages not confirmed: {reason}")

    def close(self) -> None:
        if self._conn is not None:
            _close(self._conn)
        self._conn, self._listener = None, None


def _close(conn: stomp.Connection12) -> None:
    try:
        if conn.is_connected():
            conn.disconnect()
        else:
            conn.transport.stop()
    except Exception as exc:  # closing a broken connection must never mask the original failure
        log.debug("closing STOMP connection: %s", type(exc).__name__)


class AmqTarget:
    """A runner Target: documents -> MONIT notifications -> ActiveMQ topic."""

    name = "amq"
    parse_body = True  # the MONIT body is the document rewritten (dates in ms, metadata)

    def __init__(self, settings: AmqSettings, sender: StompSender, registry: dict, schema: dict) -> None:
        self.settings = settings
        self.sender = sender
        self.dates = monit.date_fields(registry)
        self.validator = monit.BodyValidator.from_schema(schema)
        # persistent: the broker stores the message before it sends the receipt, so a receipt survives a restart.
        self.headers = {
            **monit.stomp_headers(settings.producer, settings.version or version.package_version()),
            "persistent": "true",
        }

    def write(self, batch: Sequence[DocMessage]) -> list[Rejection]:
        rejections: list[Rejection] = []
        bodies: list[bytes] = []
        for msg in batch:
            try:
                body = monit.notification_body(msg.body, msg.id, self.settings.producer, self.dates)
            except monit.NotificationError as exc:
                rejections.append(Rejection(msg, str(exc)))
                continue
            keys = self.validator.offending_keys(body)
            if keys:
                reason = monit.describe(body, keys)
                VALIDATION_FAILURES.labels(action=self.settings.validation).inc()
                log.warning("%s (%s)", reason, self.settings.validation, extra={"target": self.name, "id": msg.id})
                body = monit.apply_policy(body, keys, self.settings.validation)
                if body is None:
                    rejections.append(Rejection(msg, reason))
                    continue
            bodies.append(orjson.dumps(body))
        try:
            self.sender.send_all(self.settings.topic, self.headers, bodies)
        except BrokerUnavailable as exc:
            raise TargetUnavailable(str(exc)) from None
        return rejections

    def close(self) -> None:
        self.sender.close()


def targets(config: SinkConfig, cluster: str | None = None) -> list[AmqTarget]:
    """`spider sink amq`: one target (the broker list fails over inside it); credentials from the workdir,
    schema and registry from schemas/. There are no clusters to select (the CLI refuses `--cluster`)."""
    credentials = Credentials.from_files(
        config.resolve(config.amq_username_file), config.resolve(config.amq_password_file)
    )
    if config.amq.tls:
        for setting in ("ca_certs", "client_cert", "client_key"):
            if (path := getattr(config.amq, setting)) is not None:
                readable(path, f"amq.{setting}")
    target = AmqTarget(
        config.amq,
        StompSender(config.amq, credentials),
        schemas.load("field_types.json"),
        schemas.load(monit.SCHEMA_FILE),
    )
    return [target]
