"""Points in time as operators type them: ISO-8601 (UTC unless a zone is given) or epoch seconds."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time(text: str) -> datetime:
    """`2025-01-31T12:00:00Z`, `2025-01-31 12:00`, `2025-01-31` or `1738324800` -> aware UTC datetime;
    ValueError names the formats that work."""
    value = text.strip()
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (ValueError, OverflowError, OSError):  # not a number, or seconds no datetime can hold
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"cannot read time {text!r}: use ISO-8601 (2025-01-31T12:00:00Z) or epoch seconds") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def iso(moment: datetime | None) -> str | None:
    """Whole seconds unless the moment has a fraction (Kafka times are milliseconds): never shown cut."""
    if not moment:
        return None
    return moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds").replace("+00:00", "Z")
