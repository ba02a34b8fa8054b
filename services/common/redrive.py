"""The re-drive marker: the headers `spider dlq redrive` adds to a message it sends back into an input topic.

- `redrive_targets`: the sink targets (comma-separated names, e.g. `es-cms`) that refused the document. Every
  other sink already accepted it the first time, so it skips the message: ActiveMQ/MONIT never receives the
  document twice. A message without this header (a first send, or a re-driven raw ad) goes to every sink.
- `redrive_of`: the dead-letter coordinates (`topic:partition:offset`, comma-separated) this message re-sends,
  so a later re-drive can tell which dead letters were already re-driven.

Older marker headers of the original message are replaced, so a document re-driven twice carries one marker.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

TARGETS = "redrive_targets"
OF = "redrive_of"

Headers = Sequence[tuple[str, bytes | None]]


def marked(original: Headers | None, targets: Iterable[str], of: Iterable[str]) -> list[tuple[str, bytes | None]]:
    """The original headers without an older marker, plus this re-drive's; no targets: for every sink."""
    kept = [(name, value) for name, value in original or () if name not in (TARGETS, OF)]
    names = sorted(set(targets))
    if names:
        kept.append((TARGETS, ",".join(names).encode()))
    kept.append((OF, ",".join(sorted(set(of))).encode()))
    return kept


def skipped_by(headers: Headers | None, target: str) -> bool:
    """Whether `target` must skip this message: a re-drive meant for other sink targets only.

    Runs on every message a sink consumes, so it only walks the (few) headers."""
    for name, value in headers or ():
        if name == TARGETS:
            return value is not None and target not in value.decode("utf-8", "replace").split(",")
    return False


def redriven_from(headers: Headers | None) -> list[str]:
    """The dead-letter coordinates a message re-sends (empty for a message that is not a re-drive)."""
    for name, value in headers or ():
        if name == OF and value:
            return value.decode("utf-8", "replace").split(",")
    return []
