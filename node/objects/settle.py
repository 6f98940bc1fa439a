"""Whether the ring this node uses is settled: every live member uses it and has handed over under it.

A manifest read normally asks every live home of its partition and takes the newest of at least
R = N - W + 1 answers. That set overlaps every acknowledged write only if every home holds what it
should under the ring the read uses; right after a ring change a new home holds nothing until
metadata sync reaches it, and reads fall back on asking every live home to cover for it (the known
gap in docs/design.md, "Metadata quorums"). Once the ring is *settled*, that cover is not needed,
and a read asks only R homes (this node first when it is one): one call fewer per get.

Settled means: every member this node sees live answered `GetHandover` (this node only) with this
node's ring as both its current and its synced ring (node/repair/metadata_sync.py). Then every home
holds everything any live member held when the ring formed, including every manifest write
acknowledged under an older ring (homes refuse writes placed on a ring they have left, and a pass
takes its ring in order with commits: node/objects/ring_gate.py); and every write placed on this ring
is acknowledged by W of its homes. So any R homes overlap every acknowledged write.

The verdict is asked directly of every member, not read from gossip: a gossiped report can be older
than the member's state, and a ring that returns to an earlier member set would match an old
"synced" report. It is dropped at once when this node sees any membership change (a member's new
record may be a ring change elsewhere that has not reached this node's ring yet), and asked again
every RECHECK_S; it is kept at most VALID_S. The check runs in the background: until it says
settled, reads ask every live home as before. A member of an older release answers UNIMPLEMENTED,
which is not settled.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
from collections.abc import Callable, Sequence

from ringstore.v1 import admin_pb2

log = logging.getLogger("ringstore.objects")

# How often a settled verdict is asked again while reads use it, and how long it is used at most.
RECHECK_S = 3.0
VALID_S = 10.0
# Deadline of one member's answer to the check.
ASK_TIMEOUT_S = 2.0


class RingSettlement:
    def __init__(self, *, ring_fingerprint: Callable[[], int], live_members: Callable[[], Sequence[str]],
                 ask: Callable[[str, float], admin_pb2.NodeHandover], pool: cf.Executor,
                 monotonic_s: Callable[[], float]) -> None:
        """`live_members()`: the node ids this node sees live (itself included); `ask(node_id,
        timeout_s)`: that member's own handover (this node's answered locally), raising on failure."""
        self._ring_fingerprint = ring_fingerprint
        self._live_members = live_members
        self._ask = ask
        self._pool = pool
        self._monotonic_s = monotonic_s
        self._lock = threading.Lock()
        # Bumped by every membership change; a check started under an older epoch is not kept.
        self._epoch = 0
        # (ring fingerprint, epoch, when checked) of the last check that found the ring settled.
        self._settled: tuple[int, int, float] | None = None
        self._checking = False
        self.last_reason = "not checked yet"

    def invalidate(self, *_args) -> None:
        """A membership change: forget the verdict (a membership listener)."""
        with self._lock:
            self._epoch += 1
            self._settled = None

    def settled(self, fingerprint: int) -> bool:
        """True when the last check found ring `fingerprint` settled, no membership change came
        since, and it is recent; starts a check in the background when one is due."""
        now_s = self._monotonic_s()
        with self._lock:
            verdict = self._settled
            fresh = (verdict is not None and verdict[0] == fingerprint and verdict[1] == self._epoch
                     and now_s - verdict[2] < VALID_S)
            due = not fresh or now_s - verdict[2] >= RECHECK_S
            start = due and not self._checking
            if start:
                self._checking = True
                epoch = self._epoch
        if start:
            # A thread of its own: the check waits for the asks, which run in the pool.
            threading.Thread(target=self._check, args=(fingerprint, epoch), name="ring-settle", daemon=True).start()
        return fresh

    def _check(self, fingerprint: int, epoch: int) -> None:
        started_s = self._monotonic_s()
        try:
            reason = self._unsettled_reason(fingerprint)
        except Exception as err:  # noqa: BLE001 - a failed check is "not settled", never a crash
            reason = f"check failed: {err}"
        with self._lock:
            self._checking = False
            self.last_reason = reason or "settled"
            if reason is None and epoch == self._epoch and self._ring_fingerprint() == fingerprint:
                self._settled = (fingerprint, epoch, started_s)
            elif epoch == self._epoch:
                self._settled = None

    def _unsettled_reason(self, fingerprint: int) -> str | None:
        """None when every live member uses and has handed over under `fingerprint`; else why not."""
        members = list(self._live_members())
        try:
            futures = {member: self._pool.submit(self._ask, member, ASK_TIMEOUT_S) for member in members}
        except RuntimeError:  # the pool is shut down: the node is stopping
            return "stopping"
        for member, future in futures.items():
            try:
                answer = future.result(timeout=ASK_TIMEOUT_S * 2)
            except Exception as err:  # noqa: BLE001 - any failure to answer is "not settled"
                return f"{member} did not answer: {err}"
            if answer.current_ring_fingerprint != fingerprint:
                return f"{member} uses ring {answer.current_ring_fingerprint:016x}"
            if not answer.metadata_ok or answer.synced_ring_fingerprint != fingerprint:
                return f"{member} has not handed over under ring {fingerprint:016x}"
        return None
