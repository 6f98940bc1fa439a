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

One more thing must hold while reads use the verdict: a ring change this node has not heard of
yet. A member that has moved to a newer ring acknowledges writes placed on it, whose homes may not
be among the R this node asks (a reader asking every live home of its older ring still overlaps
them after one join or one drain, which is why reads did). So each member answering the check also
*promises* to acknowledge no write placed on another ring for PROMISE_S from receiving the call
(node/objects/ring_gate.py), and the verdict is used only until PROMISE_MARGIN_S before the
shortest promise ends, counted from before the check was sent; a check every RECHECK_S renews it.
A write under a new ring therefore waits until every promise on the old ring has ended, and by
then every reader's verdict has; a reader checking again finds the new ring and reads every live
home until it is settled too. The promise relies on clocks that run at about the same rate over a
few seconds, not on synchronized clocks.

The verdict is asked directly of every member, not read from gossip: a gossiped report can be older
than the member's state, and a ring that returns to an earlier member set would match an old
"synced" report. It is also dropped at once when this node sees any membership change. The check
runs in the background: until it says settled, reads ask every live home as before. A member of an
older release answers UNIMPLEMENTED, which is not settled.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
from collections.abc import Callable, Sequence

from ringstore.v1 import admin_pb2

log = logging.getLogger("ringstore.objects")

# How often a settled verdict is asked again while reads use it.
RECHECK_S = 1.0
# A verdict is used until this long before the shortest promise it got ends, counted from before
# the check was sent (a member's promise runs from when it received the call, later): room for
# clocks that run at slightly different rates over a few seconds.
PROMISE_MARGIN_S = 0.5
# Deadline of one member's answer to the check.
ASK_TIMEOUT_S = 1.0


class RingSettlement:
    def __init__(self, *, ring_fingerprint: Callable[[], int], live_members: Callable[[], Sequence[str]],
                 ask: Callable[[str, float, int], admin_pb2.NodeHandover], pool: cf.Executor,
                 monotonic_s: Callable[[], float]) -> None:
        """`live_members()`: the node ids this node sees live (itself included); `ask(node_id,
        timeout_s, ring)`: that member's own handover, with its promise for `ring` (this node's
        answered locally), raising on failure."""
        self._ring_fingerprint = ring_fingerprint
        self._live_members = live_members
        self._ask = ask
        self._pool = pool
        self._monotonic_s = monotonic_s
        self._lock = threading.Lock()
        # Bumped by every membership change; a check started under an older epoch is not kept.
        self._epoch = 0
        # (ring fingerprint, epoch, when checked, used until) of the last check that found it settled.
        self._settled: tuple[int, int, float, float] | None = None
        self._checking = False
        # When the last check started: checks start at most every RECHECK_S, settled or not (reads
        # on a ring that does not settle, a member DOWN for a while, must not ask in a loop).
        self._check_started_s = float("-inf")
        self.last_reason = "not checked yet"

    def invalidate(self, *_args) -> None:
        """A membership change: forget the verdict (a membership listener); the next read may check
        at once."""
        with self._lock:
            self._epoch += 1
            self._settled = None
            self._check_started_s = float("-inf")

    def settled(self, fingerprint: int) -> bool:
        """True when the last check found ring `fingerprint` settled, no membership change came
        since, and it is recent; starts a check in the background when one is due."""
        now_s = self._monotonic_s()
        with self._lock:
            verdict = self._settled
            fresh = (verdict is not None and verdict[0] == fingerprint and verdict[1] == self._epoch
                     and now_s < verdict[3])
            start = not self._checking and now_s - self._check_started_s >= RECHECK_S
            if start:
                self._checking = True
                self._check_started_s = now_s
                epoch = self._epoch
        if start:
            # A thread of its own: the check waits for the asks, which run in the pool.
            threading.Thread(target=self._check, args=(fingerprint, epoch), name="ring-settle", daemon=True).start()
        return fresh

    def _check(self, fingerprint: int, epoch: int) -> None:
        started_s = self._monotonic_s()
        try:
            reason, promise_s = self._unsettled_reason(fingerprint)
        except Exception as err:  # noqa: BLE001 - a failed check is "not settled", never a crash
            reason, promise_s = f"check failed: {err}", 0.0
        with self._lock:
            self._checking = False
            self.last_reason = reason or "settled"
            if reason is None and epoch == self._epoch and self._ring_fingerprint() == fingerprint:
                self._settled = (fingerprint, epoch, started_s, started_s + promise_s - PROMISE_MARGIN_S)
            elif epoch == self._epoch:
                self._settled = None

    def _unsettled_reason(self, fingerprint: int) -> tuple[str | None, float]:
        """(None, the shortest promise) when every live member uses, has handed over under and
        promised `fingerprint`; else (why not, 0)."""
        members = list(self._live_members())
        try:
            futures = {member: self._pool.submit(self._ask, member, ASK_TIMEOUT_S, fingerprint) for member in members}
        except RuntimeError:  # the pool is shut down: the node is stopping
            return "stopping", 0.0
        promise_s = float("inf")
        for member, future in futures.items():
            try:
                answer = future.result(timeout=ASK_TIMEOUT_S * 2)
            except Exception as err:  # noqa: BLE001 - any failure to answer is "not settled"
                return f"{member} did not answer: {err}", 0.0
            if answer.current_ring_fingerprint != fingerprint:
                return f"{member} uses ring {answer.current_ring_fingerprint:016x}", 0.0
            if not answer.metadata_ok or answer.synced_ring_fingerprint != fingerprint:
                return f"{member} has not handed over under ring {fingerprint:016x}", 0.0
            if answer.promise_s <= PROMISE_MARGIN_S:
                return f"{member} gave no promise for ring {fingerprint:016x}", 0.0
            promise_s = min(promise_s, answer.promise_s)
        return (None, promise_s) if members else ("no live member", 0.0)
