"""Disk-full watermarks: how much room this node has left for chunk copies, and refusing a copy
that would take it past a watermark.

A node is *full* once the room it may use for chunk data is taken to `full_ratio` (a fraction), or
has fewer than `free_bytes_min` bytes left (an absolute floor: 5 % of a 20 TB disk is far more slack
than needed, of a 20 GB disk far less). The room is the data dir's filesystem as an unprivileged
writer sees it (blocks reserved for root count neither as size nor as free), capped by `bytes_max`
when that is set:

    size = min(filesystem size, bytes_max)
    free = min(filesystem free, bytes_max - bytes of chunk data stored) - bytes reserved in flight
    used = size - free       (this node's copies and whatever else lives on the filesystem)

Two uses, one rule:
- `usage()` says whether the node is full, for the daemon to announce by gossip so that placement
  and repair send it no copies. It counts `headroom_bytes` (the largest copy the cluster writes,
  one chunk) as taken already: a node is announced full as soon as it would refuse a full-size
  copy, so a node that refuses copies is never one its peers still think has room.
- `reserve(incoming_bytes, what)` raises StoreFull when holding that many more bytes would make the
  node full, and otherwise holds them as taken until `release`, so concurrent writers cannot all
  pass the check with the same free bytes. `NodeStore` reserves for every new chunk copy, whatever
  path it came by (a peer's StoreChunk, a coordinator's or repair's write to its own store, a
  handoff copy going home); `check_room` is the same test without holding anything.

Only chunk copies are refused. Metadata (manifests, tombstones, bucket and placement records) is
small and is what a delete writes, so nothing here checks it: the slack under the watermarks is
where it goes, and deletes keep working on a full node. When the filesystem fills anyway (another
process wrote to it, or writes raced past the watermarks), ENOSPC while writing a chunk is a
StoreFull too, and the write path removes what it wrote before raising (see `store`).

Cost: one statvfs and the store's O(1) byte counter per call, so it runs on every chunk write.

Rejected alternatives: free filesystem bytes alone (an operator sharing a disk, or a test, cannot
cap a node, and an absolute floor alone does not scale with disk size); a ratio alone (on a small
disk 5 % may be less than one chunk); counting this node's bytes by walking chunks/ (exact, but
O(files) per write, where the index's running total is O(1)).
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable

from node.store.errors import StoreFull

# What a refusal tells the operator to do; every full-disk message ends with it.
WHAT_TO_DO = "delete data, free disk space, raise storage.disk_bytes_max or add nodes"
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(size_bytes: int) -> str:
    """1536 -> "1.5 KiB": binary units with one decimal, for one-line messages."""
    if abs(size_bytes) < 1024:
        return f"{size_bytes} B"
    value = float(size_bytes)
    for unit in _UNITS[1:]:
        value /= 1024
        if abs(value) < 1024:
            break
    return f"{value:.1f} {unit}"


@dataclasses.dataclass(frozen=True)
class DiskUsage:
    """What `DiskGuard.usage` reports (see the module docstring for how each is computed)."""

    size_bytes: int  # room this node may use: the filesystem, or bytes_max when smaller
    free_bytes: int  # of that room, what is left (writes in flight count as taken)
    used_bytes: int  # size_bytes - free_bytes
    full: bool  # a copy of headroom_bytes would be refused
    reason: str  # why full, in one line naming the watermark; "" when not full


class DiskGuard:
    """Watermarks over one data dir; thread-safe. `bytes_stored` returns the bytes of chunk data the
    store holds (its O(1) running total)."""

    def __init__(self, data_dir: str, bytes_stored: Callable[[], int], *, node_id: str = "",
                 full_ratio: float = 1.0, free_bytes_min: int = 0, bytes_max: int = 0,
                 headroom_bytes: int = 0) -> None:
        assert 0 < full_ratio <= 1, f"full_ratio {full_ratio} must be in (0, 1]"
        assert free_bytes_min >= 0 and bytes_max >= 0 and headroom_bytes >= 0, (
            free_bytes_min, bytes_max, headroom_bytes)
        self.data_dir = data_dir
        self.node_id = node_id or "this node"
        self.full_ratio = full_ratio
        self.free_bytes_min = free_bytes_min
        self.bytes_max = bytes_max
        self.headroom_bytes = headroom_bytes
        self._bytes_stored = bytes_stored
        self._lock = threading.Lock()
        self._reserved_bytes = 0

    def usage(self) -> DiskUsage:
        """Room, free bytes and whether this node is full (see `headroom_bytes`)."""
        with self._lock:
            size, free = self._room()
        crossed = self._crossed(size, free, self.headroom_bytes)
        reason = ""
        if crossed:
            after = f"one more {format_bytes(self.headroom_bytes)} copy would leave " if self.headroom_bytes else ""
            reason = f"{self.node_id} is full: {self._describe(size, free)}; {after}{crossed}"
        return DiskUsage(size_bytes=size, free_bytes=free, used_bytes=size - free, full=bool(crossed),
                         reason=reason)

    def check_room(self, incoming_bytes: int, what: str) -> None:
        """Raise StoreFull when storing `incoming_bytes` more would reach a watermark."""
        with self._lock:
            size, free = self._room()
        self._refuse_if_crossed(size, free, incoming_bytes, what)

    def reserve(self, incoming_bytes: int, what: str) -> None:
        """`check_room`, then hold the bytes as taken until `release`d (the write committed, and
        the store's total now counts them, or it was abandoned)."""
        assert incoming_bytes >= 0, incoming_bytes
        with self._lock:
            size, free = self._room()
            self._refuse_if_crossed(size, free, incoming_bytes, what)
            self._reserved_bytes += incoming_bytes

    def release(self, reserved_bytes: int) -> None:
        with self._lock:
            self._reserved_bytes -= reserved_bytes
            assert self._reserved_bytes >= 0, f"released more than reserved ({self._reserved_bytes})"

    # -- internals -------------------------------------------------------------------------------

    def _room(self) -> tuple[int, int]:
        """(size, free) now; caller holds the lock."""
        st = os.statvfs(self.data_dir)
        size = (st.f_blocks - st.f_bfree + st.f_bavail) * st.f_frsize
        free = st.f_bavail * st.f_frsize
        if self.bytes_max:
            size = min(size, self.bytes_max)
            free = min(free, self.bytes_max - self._bytes_stored())
        return size, max(0, min(size, free - self._reserved_bytes))

    def _crossed(self, size: int, free: int, incoming_bytes: int) -> str:
        """The watermark that holding `incoming_bytes` more would reach, in words; "" if none."""
        free_after = free - incoming_bytes
        used_after = size - free_after
        if used_after >= self.full_ratio * size:
            percent = 100.0 * used_after / size if size else 100.0
            return f"{percent:.1f} % used, at or over storage.disk_full_ratio={self.full_ratio:g}"
        if free_after < self.free_bytes_min:
            return (f"{format_bytes(max(0, free_after))} free, under "
                    f"storage.disk_free_bytes_min={format_bytes(self.free_bytes_min)}")
        return ""

    def _describe(self, size: int, free: int) -> str:
        cap = f" (storage.disk_bytes_max={format_bytes(self.bytes_max)})" if self.bytes_max else ""
        return f"{format_bytes(free)} free of {format_bytes(size)}{cap}"

    def _refuse_if_crossed(self, size: int, free: int, incoming_bytes: int, what: str) -> None:
        crossed = self._crossed(size, free, incoming_bytes)
        if crossed:
            raise StoreFull(
                f"{self.node_id} is full: refusing {format_bytes(incoming_bytes)} for {what}: "
                f"{self._describe(size, free)}; storing it would leave {crossed}; {WHAT_TO_DO}")
