"""Shared by the golden tests and tests/data/regen_expected.py: how each sample ad is converted."""

from __future__ import annotations

from pathlib import Path

import classad2

from services.common import raw_message
from services.converter.affiliations import Directory
from services.converter.convert import ConversionContext, Document, convert

DATA = Path(__file__).resolve().parents[2] / "data"
ADS = DATA / "ads"
EXPECTED = DATA / "expected"

CONTEXT = ConversionContext(
    affiliations=Directory(
        {
            "jdoe": {"institute": "Massachusetts Inst. of Technology", "country": "US", "dn": "/DC=ch/CN=jdoe"},
            "asmith": {"institute": "Universita e INFN Pisa", "country": "IT", "dn": "/DC=ch/CN=asmith"},
        }
    ),
    git_hash="0123456789ab",
    hostname="spider-converter-0.cern.ch",
    username="cmsjobmon",
    converter_version="1.0.0",
)
IDENTITY = {"version": "1.0.0", "git_hash": "0123456789ab", "host": "collector.cern.ch"}
QUEUE_ADS = {"running_queue", "idle_queue", "held_expressions"}
QUEUE_COLLECTED_AT = 1701430000.25
HISTORY_COLLECTED_AT = 1703100000.0


def raw_bytes(name: str) -> bytes:
    """The sample ad as the collector would publish it."""
    (ad,) = classad2.parseAds((ADS / f"{name}.ad").read_text(), classad2.ParserType.Old)
    queue = name in QUEUE_ADS
    _, value = raw_message.encode(
        ad,
        source="condor_queue" if queue else "condor_history",
        pool="Global",
        schedd="vocms0155.cern.ch",
        collected_at=QUEUE_COLLECTED_AT if queue else HISTORY_COLLECTED_AT,
        identity=IDENTITY,
    )
    return value


def converted(name: str) -> Document | None:
    return convert(raw_message.decode(raw_bytes(name)), CONTEXT)


def as_json(document: Document) -> dict:
    return {"id": document.id, "index_date": document.index_date, "source": document.source, "body": document.body}


def names() -> list[str]:
    return sorted(path.stem for path in ADS.glob("*.ad"))


def raw_ad_names(name: str) -> set[str]:
    """Document names of the sample's own attributes (copied, not derived)."""
    from services.converter.casting import document_name

    (ad,) = classad2.parseAds((ADS / f"{name}.ad").read_text(), classad2.ParserType.Old)
    return {document_name(key) or key for key in ad}
