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

A node also *promises*, when a reader checks whether its ring is settled, to acknowledge no write
placed on another ring for PROMISE_S (`promise`): a reader that has not yet heard of a ring change
must not miss a write acknowledged under the new ring while it reads from fewer homes, and the
reader trusts its verdict for less than the promises it got (node/objects/settle.py). So for up to
PROMISE_S after a ring change, homes refuse writes under the new ring and coordinators write again.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from node import errors


# How long a node keeps the promise it gives a reader's settle check (node/objects/settle.py): it
# acknowledges no manifest write placed on another ring than the one it answered with, for this
# long after it answered. A node keeps one for this long after it starts again on its data dir, for
# the promises it may have given before it stopped.
PROMISE_S = 3.0


class RingMismatch(errors.Aborted):
    """A write tagged with another ring than this node's, or than the one it promised readers."""


Check = Callable[[int, str], None]


class RingGate:
    def __init__(self, fingerprint: Callable[[], int], monotonic_s: Callable[[], float] = time.monotonic, *,
                 restarted: bool = False) -> None:
        """`restarted`: this node may have given promises before it stopped, so it keeps one that
        allows no ring for PROMISE_S: every tagged write waits that long."""
        self._fingerprint = fingerprint
        self._monotonic_s = monotonic_s
        self._lock = threading.Lock()
        # (ring promised, until when); ring 0 matches no write.
        self._promised = (0, monotonic_s() + PROMISE_S if restarted else 0.0)

    @contextlib.contextmanager
    def held(self) -> Iterator[Check]:
        """Hold the gate for a check and its commit; yields `check(tagged, what)`, which raises
        RingMismatch unless `tagged` is 0 (not checked), or this node's ring now and not another
        than the one it has promised. A metadata sync pass takes its ring under the same gate, so
        it sees every commit made while an older ring was current."""
        with self._lock:
            current = self._fingerprint()
            promised, until_s = self._promised
            left_s = until_s - self._monotonic_s()

            def check(tagged: int, what: str) -> None:
                if not tagged:
                    return
                if tagged != current:
                    raise RingMismatch(f"{what} was placed on ring {tagged:016x} but this node uses ring "
                                       f"{current:016x}; write again once the ring change has reached the writer")
                if left_s > 0 and tagged != promised:
                    raise RingMismatch(f"{what} was placed on ring {tagged:016x}, but this node told readers it "
                                       f"uses ring {promised:016x} for {left_s:.1f} s more; write again then")

            yield check

    def promise(self, fingerprint: int) -> float:
        """Promise readers, for PROMISE_S from now, to acknowledge no write placed on another ring
        than `fingerprint`, if that is this node's ring now: the promise's length, or 0 (none)."""
        with self._lock:
            if fingerprint != self._fingerprint():
                return 0.0
            self._promised = (fingerprint, self._monotonic_s() + PROMISE_S)
            return PROMISE_S


def put_manifests_checked(gate: RingGate, put_manifests: Callable[[list], Sequence[object]],
                          items: Sequence[tuple[object, str, int]]) -> list[object]:
    """Under one hold of `gate`, check each (manifest, handoff_for, ring_fingerprint) item (a
    stand-in's copy, handoff_for set, is not checked) and commit the others with one
    `put_manifests` call, one transaction: a home's PutManifests and a coordinator's own copies
    alike. One outcome per item, in order: the RingMismatch that refused it, or what
    `put_manifests` answered for it."""
    outcomes: list[object] = [None] * len(items)
    with gate.held() as check:
        kept = []
        for index, (manifest, handoff_for, fingerprint) in enumerate(items):
            if not handoff_for:
                try:
                    check(fingerprint, f"the manifest of {manifest.bucket}/{manifest.key}")
                except RingMismatch as err:
                    outcomes[index] = err
                    continue
            kept.append(index)
        stored = put_manifests([items[index][0] for index in kept]) if kept else []
    for index, outcome in zip(kept, stored):
        outcomes[index] = outcome
    return outcomes
