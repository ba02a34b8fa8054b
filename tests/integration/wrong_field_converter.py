"""A converter release with a bug, for the disaster-recovery test: `python wrong_field_converter.py converter ...`.

It is the real `spider` command (the faust worker, Kafka, commits, everything) with one change to the pure
conversion: CoreHr comes out in core-minutes instead of core-hours, a plausible unit slip. The documents keep
their ids, so only the git hash stamped on them (SPIDER_GIT_HASH) tells them apart from correct ones.
"""

from __future__ import annotations

import dataclasses

from services.cli import main
from services.converter import pipeline
from services.converter.convert import ConversionContext, Document, convert

MINUTES_PER_HOUR = 60


def convert_with_core_minutes(raw, context: ConversionContext) -> Document | None:
    doc = convert(raw, context)
    if doc is None or doc.body.get("CoreHr") is None:
        return doc
    return dataclasses.replace(doc, body={**doc.body, "CoreHr": doc.body["CoreHr"] * MINUTES_PER_HOUR})


if __name__ == "__main__":
    pipeline.convert = convert_with_core_minutes  # the name pipeline.step calls
    main()
