"""The raw ad message (schemas/raw_ad.v1.schema.json): ClassAd -> Kafka bytes and back.

The ad travels in HTCondor's own JSON ClassAd form, so nothing is lost: expressions stay expressions
("/Expr(RequestCpus * 2)/") for the converter to evaluate, undefined is null, error is "/Expr(error)/".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import classad2
import orjson

from schemas import RAW_AD_SCHEMA
from services.common import version
from services.common.json_object import loads_object

Source = Literal["condor_queue", "condor_history", "file"]
SOURCES: tuple[str, ...] = ("condor_queue", "condor_history", "file")

EXPR_PREFIX = "/Expr("
_EXPR_SUFFIX = ")/"


class MalformedMessage(ValueError):
    """The bytes are not a raw ad envelope of a schema version we read."""


@dataclass(slots=True)  # not frozen: one per message, and a frozen init costs a call per field
class RawAd:
    source: str
    pool: str | None
    schedd: str | None
    collected_at: float
    ad: dict[str, Any]
    snapshot_id: str | None = None
    snapshot_time: float | None = None
    collector: dict[str, str] | None = None

    @property
    def global_job_id(self) -> str | None:
        value = self.ad.get("GlobalJobId")
        return value if isinstance(value, str) else None


def collector_identity() -> dict[str, str]:
    return {"version": version.package_version(), "git_hash": version.git_hash(), "host": version.hostname()}


def is_expression(value: Any) -> bool:
    """Whether a JSON value is a ClassAd expression. `in` first: a C-level search that rules out almost every text,
    where startswith/endswith parse their arguments on each call (the converter asks ~100 times per ad)."""
    return (
        isinstance(value, str)
        and EXPR_PREFIX in value
        and value.startswith(EXPR_PREFIX)
        and value.endswith(_EXPR_SUFFIX)
    )


def expression_text(value: str) -> str:
    """ "/Expr(RequestCpus * 2)/" -> "RequestCpus * 2"."""
    return value[len(EXPR_PREFIX) : -len(_EXPR_SUFFIX)]


def json_to_classad(values: dict[str, Any]) -> classad2.ClassAd:
    """Rebuild a real ClassAd from the JSON form, so expressions can be evaluated against it.

    HTCondor's JSON parser only recognises expressions written with escaped slashes ("\\/Expr(...)\\/");
    `\\/` is a valid JSON escape of `/`, so escaping changes no other string.
    """
    text = orjson.dumps(values).decode()
    return classad2.parseOne(text.replace('"/Expr(', '"\\/Expr(').replace(')/"', ')\\/"'), classad2.ParserType.JSON)


def encode(
    ad: classad2.ClassAd | dict[str, Any],
    *,
    source: str,
    pool: str | None,
    schedd: str | None,
    collected_at: float,
    snapshot_id: str | None = None,
    snapshot_time: float | None = None,
    identity: dict[str, str] | None = None,
) -> tuple[bytes | None, bytes]:
    """(key, value) of the Kafka message for one ad; the key is its GlobalJobId."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    # HTCondor's JSON form is embedded as printed: a parse and a re-serialisation of ~7 KB per ad would be the
    # collector's largest cost per ad. Its line breaks all fall between tokens (JSON escapes them inside
    # strings), so dropping them keeps the message on one line, as NDJSON captures of a topic need.
    values = orjson.Fragment(ad.printJson().replace("\n", "")) if isinstance(ad, classad2.ClassAd) else ad
    envelope = {
        "schema": RAW_AD_SCHEMA,
        "source": source,
        "pool": pool,
        "schedd": schedd,
        "collected_at": collected_at,
        "snapshot": {"id": snapshot_id, "time": snapshot_time} if snapshot_id is not None else None,
        "collector": identity or collector_identity(),
        "ad": values,
    }
    job_id = ad.get("GlobalJobId")
    key = job_id.encode() if isinstance(job_id, str) else None
    return key, orjson.dumps(envelope)


def decode(value: bytes) -> RawAd:
    """Parse and check an envelope; anything else raises MalformedMessage with the reason."""
    envelope = loads_object(value, MalformedMessage)
    if envelope.get("schema") != RAW_AD_SCHEMA:
        raise MalformedMessage(f"unsupported schema {envelope.get('schema')!r}, expected {RAW_AD_SCHEMA!r}")
    ad = envelope.get("ad")
    collected_at = envelope.get("collected_at")
    if not isinstance(ad, dict):
        raise MalformedMessage("'ad' is not an object")
    if not isinstance(collected_at, int | float) or isinstance(collected_at, bool):
        raise MalformedMessage("'collected_at' is not a number")
    if envelope.get("source") not in SOURCES:
        raise MalformedMessage(f"unknown source {envelope.get('source')!r}")
    snapshot = envelope.get("snapshot") or {}
    if not isinstance(snapshot, dict):
        raise MalformedMessage("'snapshot' is not an object")
    return RawAd(
        source=envelope["source"],
        pool=envelope.get("pool"),
        schedd=envelope.get("schedd"),
        collected_at=float(collected_at),
        ad=ad,
        snapshot_id=snapshot.get("id"),
        snapshot_time=snapshot.get("time"),
        collector=envelope.get("collector"),
    )
