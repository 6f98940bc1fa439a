"""Hybrid logical clock: version stamps that order writes across coordinators.

A stamp is (physical_ms, logical, node_id). `now()` never goes backwards on one node even if the
wall clock does, and `observe()` folds in stamps seen from other nodes, so a write that causally
follows another (read it, then overwrite) always gets a greater stamp even when the two coordinators'
clocks disagree by a few milliseconds. Ties between concurrent writes break on node id, so every
replica picks the same winner (last-writer-wins, deterministic).

Rejected: plain wall-clock timestamps (a node with a slow clock would lose its writes silently) and
vector clocks (siblings would need merge rules users do not want for blobs).
"""

from __future__ import annotations

import threading
from typing import Callable

from ringstore.v1 import common_pb2


def stamp_key(stamp: common_pb2.VersionStamp) -> tuple[int, int, str, int]:
    """Total order of version stamps: greater is newer. `rewrite` comes last, so a version
    rewritten under another policy (same stamp, rewrite + 1) replaces the original but loses to
    any write made after it."""
    return (stamp.physical_ms, stamp.logical, stamp.node_id, stamp.rewrite)


class HybridLogicalClock:
    """Thread-safe HLC for one node; `wall_ms` is injected so tests drive it."""

    def __init__(self, node_id: str, wall_ms: Callable[[], int]) -> None:
        self._node_id = node_id
        self._wall_ms = wall_ms
        self._lock = threading.Lock()
        self._physical_ms = 0
        self._logical = 0

    def now(self) -> common_pb2.VersionStamp:
        with self._lock:
            wall = self._wall_ms()
            if wall > self._physical_ms:
                self._physical_ms, self._logical = wall, 0
            else:
                self._logical += 1
            return common_pb2.VersionStamp(
                physical_ms=self._physical_ms, logical=self._logical, node_id=self._node_id)

    def observe(self, stamp: common_pb2.VersionStamp) -> None:
        """Fold in a stamp from elsewhere so our next stamp is greater than it."""
        with self._lock:
            if (stamp.physical_ms, stamp.logical) > (self._physical_ms, self._logical):
                self._physical_ms, self._logical = stamp.physical_ms, stamp.logical
