"""The bucket register: one linearizable record per bucket name, changed by CASPaxos.

Why: creating or removing a bucket must be decided once per name. Two clients creating one name
through two nodes must not both be told "created", and the policy a client is told must be the one
stored. The bucket records used to be written last-writer-wins (a quorum read, then a write stamped
by the coordinator's clock): two creators both read "absent", both wrote, both answered OK, and the
record with the greater stamp silently replaced the other one's policy.

The protocol (Rystsov, "CASPaxos: Replicated State Machines without logs", 2018). The acceptors of
a name are its bucket directory HOMES: the first `metadata_replicas` nodes of the ring at
`bucket_directory_position(tenant)`. A stand-in (handoff) node never counts: a majority of stand-ins
could accept a value no home has seen. Each acceptor keeps, per name and durably in LMDB before it
answers (node/store: `prepare_bucket`, `accept_bucket`), the highest ballot it promised and the
record it accepted (with the ballot it was accepted under). A change is a function `fn` from the
current record (None: no record) to the next one:

0. read: ask every live home for its accepted record, promising nothing. If a majority answers the
   same record (same ballot), it is chosen: a change that `fn` refuses or that keeps it ends here,
   with no write. Only this makes many concurrent creators of one name cheap: the losers' retries
   and every reader see the winner's record without a promise that would make the winner's accept
   fail (the integration test found a removal starved by creators whose refused creates each
   wrote a promise). Safe: a record accepted under one ballot by a majority is chosen, and a record
   chosen after it was accepted by a majority overlapping the one read, which would then have
   answered the higher ballot.
1. prepare: pick a ballot above any seen (counter from the wall clock and past every refusal,
   node id to make it unique per proposer) and ask every live home to promise it. A home promises
   unless it promised or accepted a higher ballot, and answers its accepted record. With promises
   from a majority of the homes, the current record is the accepted one with the highest ballot.
2. accept: send `fn(current)`, stamped with the ballot, to every live home. A home accepts unless it
   promised a higher ballot meanwhile. Accepted by a majority, the record is chosen: every later
   prepare majority overlaps this one, so every later change starts from it (or from a change of it).

A round that loses (a home promised a higher ballot) starts again after a jittered backoff, at most
PROPOSE_ATTEMPTS_MAX times, then the caller gets UNAVAILABLE in one line. A majority of homes that
does not answer is UNAVAILABLE at once. When `fn` says no (ALREADY_EXISTS, NOT_FOUND), the record
it looked at is first made chosen (accepted again under this ballot unless the promises already show
it on a majority), then the error is raised: an answer is never built on a record a later round
could still overturn. A read does the same through `confirm` when the directory replicas it asked
do not show one record on a majority of homes (a change that reached only some homes, or a format 1
record from before ballots: its first confirmation is its migration).

The accepted record is the bucket record the rest of the node reads (`buckets` db): list_buckets,
bucket(), metadata sync (which moves records between homes newest-first by ballot, then version),
fsck. Records order by ballot, so a later change always supersedes an earlier one everywhere.

Rejected: last-writer-wins with HLC stamps (what was here; racy by design, see above); a leader
per tenant (needs leases and failover, and a stalled leader blocks every bucket of its tenant for a
lease timeout, where CASPaxos needs no leader and any node proposes); classic Multi-Paxos or Raft
with a log (a log to compact for a register that only ever needs its last value).
"""

from __future__ import annotations

import concurrent.futures as cf
import random
import threading
from typing import Callable, Protocol, Sequence

from node import errors
from node.objects.replicas import HolderError
from node.store import BUCKET_RECORD_FORMAT_VERSION, bucket_order_key
from ringstore.v1 import common_pb2

# Rounds one change may lose to concurrent proposers before the caller gets UNAVAILABLE.
PROPOSE_ATTEMPTS_MAX = 12
# First backoff after a lost round; doubles per loss, jittered in [50 %, 100 %] so dueling proposers
# drift apart.
RETRY_BACKOFF_S = 0.01
# Longest backoff between two rounds.
RETRY_BACKOFF_S_MAX = 0.4

Record = common_pb2.BucketRecord


class Acceptors(Protocol):
    """How a proposer reaches one acceptor (implemented by `Replicas`; local calls skip gRPC).
    Each raises HolderError when the acceptor could not be reached or did not answer."""

    def read_bucket(self, node_id: str, tenant: str, name: str
                    ) -> tuple[common_pb2.Ballot, Record | None]: ...

    def prepare_bucket(self, node_id: str, tenant: str, name: str, ballot: common_pb2.Ballot
                       ) -> tuple[bool, common_pb2.Ballot, Record | None]: ...

    def accept_bucket(self, node_id: str, record: Record) -> tuple[bool, common_pb2.Ballot]: ...


class _Lost(Exception):
    """A round met a higher ballot; start again."""


def majority(count: int) -> int:
    return count // 2 + 1


def _current(records: list[Record | None], need: int) -> tuple[Record | None, bool]:
    """The newest of the records a majority of acceptors answered (None: none has one), and whether
    it is chosen: accepted under the same ballot by `need` of them (or no record anywhere, when
    nothing can have been chosen either)."""
    current: Record | None = None
    for record in records:
        if record is not None and (current is None or bucket_order_key(record) > bucket_order_key(current)):
            current = record
    if current is None:
        return None, True
    agreeing = sum(1 for r in records if r is not None and bucket_order_key(r) == bucket_order_key(current))
    return current, agreeing >= need


class BucketRegister:
    """The proposer side of the bucket register for one node (thread-safe)."""

    def __init__(self, *, node_id: str, acceptors: Acceptors, homes: Callable[[str], Sequence[str]],
                 is_live: Callable[[str], bool], pool: cf.Executor, wall_ms: Callable[[], int],
                 rng: random.Random | None = None, sleep: Callable[[float], None] | None = None) -> None:
        self._node_id = node_id
        self._acceptors = acceptors
        self._homes = homes
        self._is_live = is_live
        self._pool = pool
        self._wall_ms = wall_ms
        self._rng = rng or random.Random()
        self._sleep = sleep or threading.Event().wait
        self._lock = threading.Lock()
        self._last_counter = 0
        self._seen_counter = 0

    def change(self, tenant: str, name: str, fn: Callable[[Record | None], Record | None]) -> Record | None:
        """Apply `fn` to the name's current record and make the result chosen; returns it.

        `fn` gets the current record (None when there is none) and returns the next one (its ballot
        is set here), or the very object it got to keep it. It may raise a RingstoreError to refuse
        the change: the record it saw is made chosen first, then the error propagates. `fn` may run
        twice per round, so it must not have side effects beyond building the record."""
        for attempt in range(PROPOSE_ATTEMPTS_MAX):
            try:
                return self._round(tenant, name, fn)
            except _Lost:
                step_s = min(RETRY_BACKOFF_S_MAX, RETRY_BACKOFF_S * 2 ** attempt)
                self._sleep(step_s * self._rng.uniform(0.5, 1.0))
        raise errors.Unavailable(
            f"changing bucket {name!r}: lost to concurrent changes of the same bucket "
            f"{PROPOSE_ATTEMPTS_MAX} rounds in a row; retry")

    def confirm(self, tenant: str, name: str) -> Record | None:
        """The name's chosen record (None: none), making the current one chosen if it is not yet. A
        name no majority has a record of gets a tombstone, so a record a lost round left on fewer
        homes is overturned once rather than looked at by every read."""
        def keep(current: Record | None) -> Record | None:
            if current is not None:
                return current
            return Record(format_version=BUCKET_RECORD_FORMAT_VERSION, tenant=tenant, name=name, tombstone=True)
        return self.change(tenant, name, keep)

    # -- one round ------------------------------------------------------------------------------

    def _round(self, tenant: str, name: str, fn: Callable[[Record | None], Record | None]) -> Record | None:
        homes = list(self._homes(tenant))
        need = majority(len(homes))
        live = [h for h in homes if self._is_live(h)]
        what = f"changing bucket {name!r}"
        if len(live) < need:
            raise errors.Unavailable(f"{what}: {len(live)} of {len(homes)} bucket directory homes are live "
                                     f"({', '.join(homes)}); a change needs {need}: retry when they are back")
        # 0. read, promising nothing: a change that is refused, or keeps a record already chosen,
        # ends here without a write, so losers and readers never disturb the round of a winner.
        reads = self._gather(live, need, what, "read",
                             lambda node: (True, *self._acceptors.read_bucket(node, tenant, name)))
        for _, highest, _ in reads:
            self._saw(highest)
        current, chosen = _current([record for _, _, record in reads], need)
        if chosen:
            proposed = fn(current)  # a refusal propagates: the record it saw is chosen
            if proposed is current:
                return current
        # 1. prepare.
        ballot = self._next_ballot()
        promises = self._gather(live, need, what, "prepare",
                                lambda node: self._acceptors.prepare_bucket(node, tenant, name, ballot))
        current, chosen = _current([record for _, _, record in promises], need)
        refusal: errors.RingstoreError | None = None
        try:
            proposed = fn(current)
        except errors.RingstoreError as err:
            proposed, refusal = current, err
        if proposed is current and chosen:
            if refusal is not None:
                raise refusal
            return current
        # 2. accept: the new record, or the current one again under this ballot so it is chosen.
        assert proposed is not None, "fn may return None only to keep an absent record"
        record = Record()
        record.CopyFrom(proposed)
        record.format_version = BUCKET_RECORD_FORMAT_VERSION
        record.ballot.CopyFrom(ballot)
        self._gather(live, need, what, "accept", lambda node: self._acceptors.accept_bucket(node, record))
        if refusal is not None:
            raise refusal
        return record

    def _gather(self, nodes: list[str], need: int, what: str, phase: str, call: Callable[[str], tuple]) -> list[tuple]:
        """call(node) on every node at once; the answers that said yes once `need` of them did.
        Raises _Lost when enough refused that `need` yes answers can no longer come, Unavailable
        when too many failed to answer at all."""
        futures = {self._pool.submit(call, node): node for node in nodes}
        yes: list[tuple] = []
        refused = 0
        failures: list[str] = []
        pending = set(futures)
        try:
            while pending and len(yes) < need:
                done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    try:
                        answer = future.result()
                    except HolderError as err:
                        failures.append(str(err))
                        continue
                    if answer[0]:
                        yes.append(answer)
                    else:
                        refused += 1
                        self._saw(answer[1])
                if len(yes) + len(pending) < need:
                    break
        finally:
            for future in pending:
                future.cancel()
        if len(yes) >= need:
            return yes
        if refused:
            raise _Lost()
        raise errors.Unavailable(f"{what}: {phase} reached {len(yes)} of the {need} bucket directory homes "
                                 f"a change needs ({'; '.join(failures)}); retry")

    def _next_ballot(self) -> common_pb2.Ballot:
        """Above every ballot this proposer made or saw refused, and at least the wall clock in
        milliseconds, so a restarted node (whose counters start again at 0) does not reuse a ballot
        it made before unless its clock went back."""
        with self._lock:
            counter = max(self._last_counter + 1, self._seen_counter + 1, self._wall_ms())
            self._last_counter = counter
        return common_pb2.Ballot(counter=counter, node_id=self._node_id)

    def _saw(self, ballot: common_pb2.Ballot) -> None:
        with self._lock:
            self._seen_counter = max(self._seen_counter, ballot.counter)
