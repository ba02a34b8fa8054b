"""A converter release with a bug, for the disaster-recovery test: `python wrong_field_converter.py converter ...`.

It is the real `spider` command (the faust worker, Kafka, commits, everything) with one change to the pure
conversion: CoreHr comes out in core-minutes instead of core-hours, a plausible unit slip, and RecordTime one
second late, so the documents also get other ids than the correct ones (`GlobalJobId#RecordTime`): a purged copy
that came back would never be overwritten by a correct one. The git hash stamped on them (SPIDER_GIT_HASH) is what
tells them apart.
"""

from __future__ import annotations

import dataclasses

from services.cli import main
from services.converter import pipeline
from services.converter.convert import ConversionContext, Document, convert

MINUTES_PER_HOUR = 60


def convert_with_slips(raw, context: ConversionContext) -> Document | None:
    doc = convert(raw, context)
    if doc is None:
        return doc
    body = {**doc.body, "RecordTime": doc.body["RecordTime"] + 1}
    if body.get("CoreHr") is not None:
        body["CoreHr"] *= MINUTES_PER_HOUR
    return dataclasses.replace(doc, id=f"{body['GlobalJobId']}#{body['RecordTime']}", body=body)


if __name__ == "__main__":
    pipeline.convert = convert_with_slips  # the name pipeline.step calls
    main()
