"""Times as people read them in a sentence, shared by the node's messages and nodectl's output."""

from __future__ import annotations

import datetime


def utc_text(unix_ms: int) -> str:
    """"2024-05-01 12:30:00 UTC"."""
    moment = datetime.datetime.fromtimestamp(unix_ms / 1000, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def duration_text(seconds: float) -> str:
    """"4 s", "2 min 5 s", "3 h 20 min", "2 d 4 h": the two largest units, rounded to the second (a
    negative duration reads as its size)."""
    minutes, secs = divmod(round(abs(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
