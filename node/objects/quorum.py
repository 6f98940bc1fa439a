"""Write one thing to several holders in parallel and return once enough of them have it.

Used for chunk copies (every copy must land: quorum = count) and for manifests and bucket records
(quorum = metadata_write_quorum of metadata_replicas, counting home replicas only: a stand-in's
handoff copy is written for durability but never makes a quorum, because reads count homes only
and two home quorums always overlap while a home and a stand-in set need not). A holder that fails mid-write is replaced by
the next spare live node as a handoff copy for the same home node, so one node dying during a put
costs a retry, not the put. Writes still pending when the quorum is reached keep going in the
background: a manifest lands on its third replica shortly after the client has its answer.

A holder that answers "full" (its disk is past a watermark its gossip had not announced yet) is
replaced by a spare like any other failure: that is how a stale view of who is full corrects
itself. When the quorum is missed and every failure was "full", the answer is RESOURCE_EXHAUSTED
naming those nodes, not UNAVAILABLE: retrying will not help until space is freed or nodes added.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from typing import Callable

from node import errors
from node.objects.placement import Assignment, Targets
from node.objects.replicas import HolderError


def write_quorum(pool: cf.Executor, targets: Targets, quorum: int, send: Callable[[Assignment], None], *,
                 what: str, homes_only: bool = False, settled: Callable[[], None] | None = None
                 ) -> list[Assignment]:
    """Send to every assignment; return the acknowledged ones once `quorum` of them count, or raise
    Unavailable (ResourceExhausted when every failure was a full disk). With `homes_only` (metadata)
    only acks from home holders count toward `quorum`; handoff copies are still written, and what
    is returned includes them. `settled()`, when given, is called once every send has ended (the
    ones still in flight when this returns or raises included), from whichever thread ends last."""
    assert 1 <= quorum <= len(targets.assignments), (quorum, targets)
    spares = list(targets.spares)
    pending: dict[cf.Future, Assignment] = {pool.submit(send, a): a for a in targets.assignments}
    acked: list[Assignment] = []
    failures: list[str] = []
    full: list[str] = []

    def counted() -> int:
        return sum(1 for a in acked if not (homes_only and a.handoff_for))

    while pending and counted() < quorum:
        done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
        for future in done:
            assignment = pending.pop(future)
            try:
                future.result()
            except HolderError as err:
                failures.append(str(err))
                if err.kind == "full":
                    full.append(err.node_id)
                if spares:
                    stand_in = Assignment(spares.pop(0), handoff_for=assignment.handoff_for or assignment.node_id,
                                          slot=assignment.slot)
                    pending[pool.submit(send, stand_in)] = stand_in
                continue
            acked.append(assignment)
    if settled is not None:
        _when_all_done(list(pending), settled)
    acks = counted()
    whose = " home" if homes_only else ""
    if acks < quorum and len(full) == len(failures):
        # Each holder's refusal already names its watermark and what to do.
        raise errors.ResourceExhausted(
            f"{what}: write quorum not met: {acks} of {quorum}{whose} acks; disk full on "
            f"{', '.join(full)} ({'; '.join(failures)})")
    if acks < quorum:
        raise errors.Unavailable(
            f"{what}: write quorum not met: {acks} of {quorum}{whose} acks ({'; '.join(failures)})"
            + ("; it may or may not take effect: retry" if homes_only else ""))
    return acked


def _when_all_done(futures: list[cf.Future], callback: Callable[[], None]) -> None:
    """callback() once every future is done (at once when none is left)."""
    left = [len(futures)]
    lock = threading.Lock()

    def one_done(_: cf.Future) -> None:
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            callback()

    if not futures:
        callback()
        return
    for future in futures:
        future.add_done_callback(one_done)
