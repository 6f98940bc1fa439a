"""Manifest writes checked against the ring they were placed on, ordered against metadata sync.

A coordinator chooses a manifest's homes on its ring and tags each write with that ring's
fingerprint. A home stores a tagged write only while its own ring has the same fingerprint, and
it checks and commits under one lock that a metadata sync pass also takes when it snapshots the
ring it will hand over under. So on every node, each write acknowledged under an older ring was
committed before the first pass on the newer ring began, and that pass hands it to the new
homes; a write tagged with a ring the home has left is refused (ABORTED) and the coordinator
writes again on its newer ring. Handoff copies, metadata sync pushes and read repair are not
tagged: they never make a write acknowledged.

The lock is held for the check and the LMDB commit: commits are serialized by LMDB's writer lock
anyway, so it adds no waiting beyond a sync pass's snapshot of the ring.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from node import errors


class RingMismatch(errors.Aborted):
    """A write tagged with another ring than this node's."""


class RingGate:
    def __init__(self, fingerprint: Callable[[], int]) -> None:
        self._fingerprint = fingerprint
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def held(self) -> Iterator[int]:
        """Hold the gate for a check and its commit; yields this node's ring fingerprint now. A
        metadata sync pass takes its ring under the same gate, so it sees every commit made while
        an older ring was current."""
        with self._lock:
            yield self._fingerprint()

    @staticmethod
    def check(tagged: int, current: int, what: str) -> None:
        """Raise RingMismatch unless `tagged` is 0 (not checked) or `current`."""
        if tagged and tagged != current:
            raise RingMismatch(f"{what} was placed on ring {tagged:016x} but this node uses ring {current:016x}; "
                               "write again once the ring change has reached the writer")
