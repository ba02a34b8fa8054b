"""Configuration shared by every service.

Precedence, lowest to highest: defaults < config file (TOML, `--config` or SPIDER_CONFIG) < environment
(SPIDER_*, nested with `__`, e.g. SPIDER_KAFKA__BOOTSTRAP_SERVERS) < CLI flags. The reference system's
files (etc/collectors.json, etc/es_conf.json, ...) are read unchanged from SPIDER_WORKDIR.
"""

from __future__ import annotations

import contextvars
import dataclasses
import json
import os
import tomllib
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from services.common import topics
from services.common.errors import ConfigError
from services.common.topics import TopicSpec

_config_file: contextvars.ContextVar[Path | None] = contextvars.ContextVar("spider_config_file", default=None)


def read_text(path: Path, what: str = "file") -> str:
    """A UTF-8 text file, every failure turned into one ConfigError line naming the file (never its content)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} not found", path) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} is not UTF-8 text (bad byte at offset {exc.start})", path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror}", path) from None


def readable(path: Path, what: str) -> Path:
    """A file (or a CA directory) that a client opens itself later, checked now: a wrong path is a ConfigError
    at start, not a TLS failure at the first connection."""
    if not path.exists():
        raise ConfigError(f"{what} not found", path)
    if not os.access(path, os.R_OK):
        raise ConfigError(f"{what} is not readable", path)
    return path


def read_json(path: Path) -> Any:
    """Parse a JSON file, turning every failure into one ConfigError line that names the file."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", path) from None


def read_secret(path: Path) -> SecretStr:
    """Read a one-line secret file (password, token); the value never reaches a log or an exception."""
    value = read_text(path, "secret file").strip()
    if not value:
        raise ConfigError("secret file is empty", path)
    return SecretStr(value)


def load_collectors(path: Path) -> dict[str, list[str]]:
    """collectors.json: `{"PoolName": ["host:port", ...], ...}`."""
    data = read_json(path)
    if not isinstance(data, dict) or not all(
        isinstance(pool, str) and isinstance(hosts, list) and all(isinstance(h, str) for h in hosts)
        for pool, hosts in data.items()
    ):
        raise ConfigError('expected an object of pool name -> list of "host:port" strings', path)
    return data


class ClusterConfig(BaseModel):
    """One search cluster of es_conf.json.

    The reference convention: a host ending in `/os` (the reference's code) or `/es` (its DEPLOYMENT.md) is
    OpenSearch behind that path, port optional; any other host is Elasticsearch and needs a port. The path stays
    in the URL. The other keys are optional; certificates are verified by default.
    """

    REFERENCE_CA: ClassVar[str] = "/etc/pki/tls/certs/ca-bundle.trust.crt"
    OPENSEARCH_PATHS: ClassVar[tuple[str, ...]] = ("os", "es")

    name: str = Field(description="Name in logs, metrics and sink targets (es-<name>); default: the host name")
    kind: Literal["elasticsearch", "opensearch"] = Field(description="Default: from the host (see above)")
    host: str = Field(description="Host name, optionally followed by /os or /es (OpenSearch behind that path)")
    port: int | None = Field(None, description="Required for Elasticsearch; optional behind a path")
    url_prefix: str = Field("", description="Path before every request; default: the host's /os or /es")
    scheme: Literal["http", "https"] = Field("https", description="http only for a test cluster")
    username: str | None = Field(None, description="Basic-auth user")
    password: SecretStr | None = Field(None, description="Basic-auth password (never logged)")
    ca_certs: Path | None = Field(
        None,
        description=f"CA bundle (PEM) that verifies the cluster, e.g. CERN's {REFERENCE_CA}; default: the system's",
    )
    client_cert: Path | None = Field(None, description="Client certificate (PEM) for TLS client authentication")
    client_key: Path | None = Field(None, description="Key of the client certificate")
    verify_certs: bool = Field(True, description="false turns certificate verification off (never in production)")

    @property
    def url(self) -> str:
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{self.host}{port}{self.url_prefix}"

    @classmethod
    def from_reference_entry(cls, entry: dict[str, Any]) -> ClusterConfig:
        host = str(entry.get("host", "")).strip()
        if not host:
            raise ValueError("every cluster needs a 'host'")
        if host.startswith(("http://", "https://")):
            raise ValueError(f"host {host!r} must not carry a scheme (use the 'scheme' key)")
        values = {k: v for k, v in entry.items() if k != "host"}
        hostname, _, path = host.partition("/")
        path = path.strip("/")
        if path in cls.OPENSEARCH_PATHS:
            values.setdefault("kind", "opensearch")
        else:
            values.setdefault("kind", "elasticsearch")
            if entry.get("port") is None and values["kind"] == "elasticsearch":
                raise ValueError(f"Elasticsearch host {host!r} needs a 'port' (or a path /os or /es for OpenSearch)")
        if path:
            values.setdefault("url_prefix", "/" + path)
        values.setdefault("name", hostname)
        return cls(host=hostname, **values)


def _validation_reason(exc: ValidationError) -> str:
    """The first problem with the key it concerns; pydantic's input value is left out (it may be a password)."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]


def load_es_clusters(path: Path) -> list[ClusterConfig]:
    data = read_json(path)
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise ConfigError("expected a list of cluster objects", path)
    clusters = []
    for index, entry in enumerate(data):
        try:
            clusters.append(ClusterConfig.from_reference_entry(entry))
        except (ValueError, ValidationError) as exc:
            reason = _validation_reason(exc) if isinstance(exc, ValidationError) else str(exc)
            raise ConfigError(f"cluster #{index + 1}: {reason}", path) from None
    names = [c.name for c in clusters]
    if len(set(names)) != len(names):
        raise ConfigError(f"cluster names must be unique, got {names}", path)
    return clusters


class TopicRetention(BaseModel):
    """How long Kafka keeps messages: the window in which `spider replay` can still recover data."""

    raw_days: float = Field(7, gt=0, description="raw.queue/raw.history: how far back ads can be re-converted")
    docs_days: float = Field(7, gt=0, description="docs.queue/docs.history: how long a sink may be down without loss")
    dead_letter_days: float = Field(30, gt=0, description="dlq.converter/dlq.sinks: time to inspect rejected records")

    def apply(self, specs: tuple[TopicSpec, ...]) -> tuple[TopicSpec, ...]:
        """The specs with these retentions; the compacted checkpoint topic keeps its records forever."""
        days = {
            topics.RAW_QUEUE: self.raw_days,
            topics.RAW_HISTORY: self.raw_days,
            topics.DOCS_QUEUE: self.docs_days,
            topics.DOCS_HISTORY: self.docs_days,
            topics.DLQ_CONVERTER: self.dead_letter_days,
            topics.DLQ_SINKS: self.dead_letter_days,
        }
        return tuple(
            dataclasses.replace(spec, retention_ms=int(days[spec.name] * topics.DAY_MS)) if spec.name in days else spec
            for spec in specs
        )


MIB = 1024 * 1024


def size_text(size: float) -> str:
    """A message size as the limits are set: MiB, or KiB below a tenth of one (never "0.0 MiB")."""
    return f"{size / MIB:.1f} MiB" if size >= MIB / 10 else f"{size / 1024:.1f} KiB"


def kafka_size(limit: int) -> int:
    """Kafka's setting for messages of up to `limit` bytes (key, value and headers, uncompressed): 1/16 more,
    room for the record batch framing and for compression that grows incompressible data a little."""
    return limit + limit // 16


class MessageSizeLimits(BaseModel):
    """The largest message each kind of topic takes, in MiB (key, value and headers, uncompressed).

    The topics' `max.message.bytes`, the producers' `message.max.bytes` and the consumers' fetch sizes all
    follow from these (`kafka_size`), so a message one service may write, the next one can read.
    """

    raw_mb: float = Field(
        12, gt=0, description="raw.queue/raw.history: the largest ad the collector publishes (an ad of 10 MB fits)"
    )
    docs_mb: float = Field(
        8, gt=0, description="docs.queue/docs.history: a larger document goes to dlq.converter, with the reason"
    )
    dead_letter_mb: float = Field(
        20,
        gt=0,
        description="dlq.converter/dlq.sinks: a dead letter holds the original base64 (4/3 of its size); "
        "a larger one keeps only the start of the original, marked as cut",
    )

    def limit(self, name: str) -> int | None:
        """Bytes a message of topic `name` (before the prefix) may have; None for topics left at the broker's."""
        mb = {
            topics.RAW_QUEUE: self.raw_mb,
            topics.RAW_HISTORY: self.raw_mb,
            topics.DOCS_QUEUE: self.docs_mb,
            topics.DOCS_HISTORY: self.docs_mb,
            topics.DLQ_CONVERTER: self.dead_letter_mb,
            topics.DLQ_SINKS: self.dead_letter_mb,
        }.get(name)
        return None if mb is None else int(mb * MIB)

    def apply(self, specs: tuple[TopicSpec, ...]) -> tuple[TopicSpec, ...]:
        """The specs with these limits as `max.message.bytes`."""
        return tuple(
            spec
            if (limit := self.limit(spec.name)) is None
            else dataclasses.replace(spec, max_message_bytes=kafka_size(limit))
            for spec in specs
        )


class KafkaSettings(BaseModel):
    bootstrap_servers: str = Field("127.0.0.1:9092", description="Comma-separated host:port list of Kafka brokers")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="librdkafka security.protocol"
    )
    sasl_mechanism: str | None = Field(None, description="SASL mechanism, e.g. PLAIN, SCRAM-SHA-512")
    sasl_username: str | None = Field(None, description="SASL user name")
    sasl_password: SecretStr | None = Field(None, description="SASL password; prefer sasl_password_file")
    sasl_password_file: Path | None = Field(None, description="File holding the SASL password")
    ssl_ca_location: Path | None = Field(None, description="CA bundle (PEM) that signed the brokers' certificates")
    ssl_certificate_location: Path | None = Field(None, description="Client certificate (PEM) for TLS authentication")
    ssl_key_location: Path | None = Field(None, description="Client private key (PEM)")
    ssl_key_password_file: Path | None = Field(None, description="File holding the client key's password")
    topic_prefix: str = Field("spider.", description="Prepended to every topic name")
    retention: TopicRetention = Field(
        TopicRetention(), description="Retention of the topics `spider topics create` makes"
    )
    message_size: MessageSizeLimits = Field(
        MessageSizeLimits(), description="Largest message of each topic; producers and consumers follow"
    )
    replication_factor: int = Field(
        1, ge=1, description="Replicas of every topic spider creates (`topics create`, the converter); 3 in production"
    )
    min_insync_replicas: int | None = Field(
        None,
        ge=1,
        description="min.insync.replicas of the topics spider creates (the broker's default if unset); 2 in "
        "production, so that an acks=all write survives the loss of one broker",
    )

    @model_validator(mode="after")
    def _durable(self) -> KafkaSettings:
        if self.min_insync_replicas is not None and self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"min_insync_replicas {self.min_insync_replicas} exceeds replication_factor {self.replication_factor}"
                " (no write could ever succeed)"
            )
        return self

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def topic_specs(self) -> tuple[TopicSpec, ...]:
        """Every topic of the pipeline with the configured retention and size limits (names before the prefix)."""
        return self.message_size.apply(self.retention.apply(topics.TOPICS))

    def message_bytes(self, *names: str) -> int:
        """Kafka's size setting for the largest message of the topics `names` (before the prefix): the producers'
        `message.max.bytes` and the consumers' per-partition fetch size, so every message a topic takes is
        written and read whole."""
        return max(kafka_size(self.message_size.limit(name) or MIB) for name in names)

    def client_config(self) -> dict[str, Any]:
        """Connection settings in librdkafka's vocabulary, secrets read from their files here. Clients are built
        with services/common/kafka.py, which adds the logging and reconnect behaviour."""
        conf = {"bootstrap.servers": self.bootstrap_servers, "security.protocol": self.security_protocol}
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            conf["sasl.username"] = self.sasl_username
        password = read_secret(self.sasl_password_file) if self.sasl_password_file else self.sasl_password
        if password is not None:
            conf["sasl.password"] = password.get_secret_value()
        for key, setting in (
            ("ssl.ca.location", "ssl_ca_location"),
            ("ssl.certificate.location", "ssl_certificate_location"),
            ("ssl.key.location", "ssl_key_location"),
        ):
            if (path := getattr(self, setting)) is not None:
                conf[key] = str(readable(path, f"kafka.{setting}"))
        if self.ssl_key_password_file is not None:
            conf["ssl.key.password"] = read_secret(self.ssl_key_password_file).get_secret_value()
        return conf

    def check(self) -> None:
        """Read the secret files and look for the TLS files now: a missing or unreadable one is a ConfigError when a
        command starts, before it attempts any connection."""
        self.client_config()


# The TOML table of each service. Registered here, not discovered from the config classes that happen to be
# imported: a service loading the file must know every table to skip the others'.
SECTIONS = frozenset({"collector", "converter", "sinks"})

# Top-level keys that only some services have (the reference layout's files): one file serves every service,
# so a service without the setting skips it. `monit_schema_file` was never read and is skipped for old files.
SERVICE_KEYS = frozenset(
    {
        "collectors_file",
        "checkpoint_file",
        "es_conf_file",
        "amq_username_file",
        "amq_password_file",
        "affiliation_file",
        "monit_schema_file",
    }
)


class _ConfigFileSource(PydanticBaseSettingsSource):
    """Values from the TOML config file: top-level keys for every service, then the service's own table."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _config_file.get()
        if path is None:
            return {}
        text = read_text(path, "config file")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"malformed TOML: {exc}", path) from None
        fields = self.settings_cls.model_fields
        values = {k: v for k, v in data.items() if k not in SECTIONS and (k in fields or k not in SERVICE_KEYS)}
        own = data.get(getattr(self.settings_cls, "section", ""), {})
        values.update(own if isinstance(own, dict) else {})
        return values


class SpiderSettings(BaseSettings):
    """Settings every service shares; each service subclasses it and names its TOML table (one of SECTIONS) in
    `section`, and declares the files of the reference layout it reads (named in SERVICE_KEYS)."""

    model_config = SettingsConfigDict(
        env_prefix="SPIDER_", env_nested_delimiter="__", extra="forbid", populate_by_name=True
    )
    section: ClassVar[str] = "common"

    workdir: Path = Field(Path("."), description="Directory holding the reference layout (etc/, checkpoint.json)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Lowest level logged")
    log_format: Literal["auto", "json", "human"] = Field("auto", description="auto: human on a TTY, else JSON")
    metrics_port: int | None = Field(None, description="Port of /metrics, /healthz and /readyz; off if unset")
    stop_grace_s: float = Field(
        25.0, gt=0, description="After SIGTERM/SIGINT, the longest a service takes to stop before it exits anyway"
    )
    kafka: KafkaSettings = KafkaSettings()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.section not in SECTIONS:
            raise TypeError(f"{cls.__name__}.section {cls.section!r} is not registered in config.SECTIONS")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _ConfigFileSource(settings_cls)

    def resolve(self, path: Path) -> Path:
        """A configured path, relative to the workdir unless absolute."""
        return path if path.is_absolute() else self.workdir / path

    def reference_files(self) -> dict[str, Path]:
        """Every reference-layout file this config points at, by setting name."""
        return {name: self.resolve(getattr(self, name)) for name in type(self).model_fields if name in SERVICE_KEYS}


S = TypeVar("S", bound=SpiderSettings)


def load_settings(cls: type[S], config_file: Path | None = None, **cli: Any) -> S:
    """Build a service config; CLI flags left at None do not override lower layers."""
    if config_file is None and os.environ.get("SPIDER_CONFIG"):
        config_file = Path(os.environ["SPIDER_CONFIG"])
    token = _config_file.set(config_file)
    try:
        return cls(**{k: v for k, v in cli.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(f"invalid setting {_validation_reason(exc)}") from None
    finally:
        _config_file.reset(token)
