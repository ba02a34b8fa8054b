"""Converter settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field

from services.common.config import MIB, SpiderSettings
from services.converter.sanitize import TEXT_LIMIT_BYTES, TEXT_LIMIT_MIN_BYTES


class ConverterConfig(SpiderSettings):
    section = "converter"

    affiliation_file: Path = Field(
        Path(".affiliation_dir.json"),
        description="User -> institute/country directory cache (also AFFILIATION_DIR_LOCATION)",
        validation_alias=AliasChoices("affiliation_file", "AFFILIATION_DIR_LOCATION", "SPIDER_AFFILIATION_FILE"),
    )

    group_id: str = Field("spider-converter", description="Kafka consumer group (faust app id) shared by workers")
    concurrency: int = Field(1, ge=1, description="Agent instances per worker process")
    batch_size: int = Field(500, ge=1, description="Messages converted before their outputs are awaited and acked")
    batch_timeout_s: float = Field(0.2, gt=0, description="Longest wait to fill a batch")
    session_timeout_s: float = Field(
        10.0, gt=0, description="Kafka session timeout: how fast a dead worker's partitions move"
    )
    heartbeat_interval_s: float = Field(3.0, gt=0, description="Consumer group heartbeat interval")
    commit_interval_s: float = Field(2.0, gt=0, description="Commit acknowledged offsets at least this often")
    commit_every: int = Field(5000, ge=1, description="... or after this many acknowledged messages")
    fetch_max_wait_ms: int = Field(
        50, ge=1, description="Longest time the broker holds a fetch with no new data (faust's own is 1500)"
    )
    fetch_max_bytes: int = Field(
        4 * MIB,
        ge=MIB,
        description="Most bytes one fetch from a broker returns (aiokafka's own is 50 MiB); every fetched partition "
        "is held until converted. A larger message still arrives whole",
    )
    records_per_poll: int = Field(
        500, ge=1, description="Most fetched messages made into Python objects at a time (faust's own: all buffered)"
    )
    stream_buffer: int = Field(
        1000, ge=1, description="Messages handed to the agent ahead of its batches (faust's own is 4,096)"
    )
    batches_in_flight: int = Field(
        4, ge=1, description="Converted batches whose outputs may await Kafka's acknowledgement at once"
    )
    compression: str = Field(
        "lz4", pattern="^(zstd|lz4)$", description="Compression of document messages (lz4 or zstd)"
    )
    linger_ms: int = Field(5, ge=0, description="How long librdkafka waits to fill a produce batch")
    stop_timeout_s: float = Field(
        10.0, gt=0, description="On stop, how long batches in flight may take to be acknowledged (else replayed)"
    )
    send_retry_max_s: float = Field(30.0, gt=0, description="Longest back-off between retries of a failed output send")
    summary_interval_s: float = Field(
        60.0, gt=0, description="How often a summary line logs the converted, dropped and dead-lettered counts"
    )
    reduce_running: bool = Field(
        True, description="Keep only the running_fields set in Running/Idle/Held queue documents"
    )
    max_text_bytes: int = Field(
        TEXT_LIMIT_BYTES,
        ge=TEXT_LIMIT_MIN_BYTES,
        description="Longest text value in a document (UTF-8 bytes); longer ones are cut and end with a marker",
    )
    declare_topics: bool = Field(True, description="Create missing input/output topics with their TopicSpec settings")
    datadir: str = Field("/tmp/spider-converter", description="faust data directory (nothing persistent: no tables)")
    cric_url: str = Field(
        "https://cms-cric.cern.ch/api/accounts/user/query/?json",
        description="CRIC user directory that `spider affiliations refresh` downloads",
    )
    cric_cert_file: Path | None = Field(None, description="Robot certificate (PEM) presented to CRIC")
    cric_key_file: Path | None = Field(None, description="Key of the robot certificate (PEM, not encrypted)")
    cric_ca_file: Path | None = Field(
        None,
        description="CA bundle of CRIC's certificate (e.g. /etc/pki/tls/certs/CERN-bundle.pem); system CAs if unset",
    )
    cric_timeout_s: float = Field(60.0, gt=0, description="Longest wait for the CRIC answer")
