"""Unit tests of nodectl/cli/watch.py: the line each kind of change prints."""

from __future__ import annotations

from nodectl.cli.watch import format_change
from nodectl.client import ObjectChange, WatchEvent


def _event(kind: str, *, current: bool = True, size: int = 5) -> WatchEvent:
    return WatchEvent(cursor="c1.x", change=ObjectChange(
        key="docs/a.txt", kind=kind, version_id="null", version="1800000000000.0.node-1", current=current,
        size_bytes=size, etag="e", written_at_unix_ms=1_800_000_000_000))


def test_each_kind_of_change_is_one_line():
    assert format_change(_event("put")) == "2027-01-15T08:00:00Z put     docs/a.txt version null 5 bytes"
    assert format_change(_event("delete")) == "2027-01-15T08:00:00Z delete  docs/a.txt version null"
    assert format_change(_event("put", current=False)).endswith("5 bytes (an older version)")
    assert format_change(_event("erase", current=False)) == "2027-01-15T08:00:00Z erase   docs/a.txt version null"
