"""How long ago something happened, in the one short form every operator command prints ("3d 4h", "12m 5s")."""

from __future__ import annotations


def age(seconds: float) -> str:
    """Two units at most: the two largest that are not zero-led, so the width stays small in tables."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s"
