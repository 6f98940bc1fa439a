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

The proposer (`Register`) is generic over what it registers: a `Space` names a register's acceptors,
how its records order and how a proposal takes its ballot. Bucket records are one space
(`BucketRegister`); conditional puts' per-key registers are another (node/objects/conditions.py,
acceptors: the key's metadata homes).

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


def _current(records: list, need: int, order_key: Callable) -> tuple[object | None, bool]:
    """The newest of the records a majority of acceptors answered (None: none has one), and whether
    it is chosen: accepted under the same ballot by `need` of them (or no record anywhere, when
    nothing can have been chosen either)."""
    current = None
    for record in records:
        if record is not None and (current is None or order_key(record) > order_key(current)):
            current = record
    if current is None:
        return None, True
    agreeing = sum(1 for r in records if r is not None and order_key(r) == order_key(current))
    return current, agreeing >= need


class Space(Protocol):
    """What one kind of register is made of (bucket records, key registers): its acceptors, how
    its records order and how a proposed one takes its ballot. `name` is the register's address
    (a tuple), passed through unchanged."""

    acceptors_word: str  # "bucket directory homes", for messages

    def describe(self, name: tuple) -> str: ...
    def homes(self, name: tuple) -> Sequence[str]: ...
    def read(self, node: str, name: tuple) -> tuple[common_pb2.Ballot, object | None]: ...
    def prepare(self, node: str, name: tuple, ballot: common_pb2.Ballot) -> tuple[bool, common_pb2.Ballot, object | None]: ...
    def accept(self, node: str, record: object) -> tuple[bool, common_pb2.Ballot]: ...
    def order_key(self, record: object) -> tuple: ...
    def with_ballot(self, record: object, ballot: common_pb2.Ballot) -> object: ...
    def absent(self, name: tuple) -> object: ...


class Register:
    """The proposer side of one kind of register for one node (thread-safe)."""

    def __init__(self, space: Space, *, node_id: str, is_live: Callable[[str], bool], pool: cf.Executor,
                 wall_ms: Callable[[], int], rng: random.Random | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        self._space = space
        self._node_id = node_id
        self._is_live = is_live
        self._pool = pool
        self._wall_ms = wall_ms
        self._rng = rng or random.Random()
        self._sleep = sleep or threading.Event().wait
        self._lock = threading.Lock()
        self._last_counter = 0
        self._seen_counter = 0

    def change(self, name: tuple, fn: Callable[[object | None], object | None]) -> object | None:
        """Apply `fn` to the register's current record and make the result chosen; returns it.

        `fn` gets the current record (None when there is none) and returns the next one (its ballot
        is set here), or the very object it got to keep it. It may raise a RingstoreError to refuse
        the change: the record it saw is made chosen first, then the error propagates. `fn` may run
        twice per round, so it must not have side effects beyond building the record."""
        for attempt in range(PROPOSE_ATTEMPTS_MAX):
            try:
                return self._round(name, fn)
            except _Lost:
                step_s = min(RETRY_BACKOFF_S_MAX, RETRY_BACKOFF_S * 2 ** attempt)
                self._sleep(step_s * self._rng.uniform(0.5, 1.0))
        raise errors.Unavailable(
            f"changing {self._space.describe(name)}: lost to concurrent changes of it "
            f"{PROPOSE_ATTEMPTS_MAX} rounds in a row; retry")

    def confirm(self, name: tuple) -> object | None:
        """The register's chosen record (None: none), making the current one chosen if it is not
        yet. A name no majority has a record of gets the space's `absent` record, so a record a lost
        round left on fewer homes is overturned once rather than looked at by every read."""
        def keep(current):
            return current if current is not None else self._space.absent(name)
        return self.change(name, keep)

    def saw(self, counter: int) -> None:
        """A counter a ballot must now exceed (a stamp the caller's value must be newer than)."""
        with self._lock:
            self._seen_counter = max(self._seen_counter, counter)

    # -- one round ------------------------------------------------------------------------------

    def _round(self, name: tuple, fn: Callable[[object | None], object | None]) -> object | None:
        space = self._space
        homes = list(space.homes(name))
        need = majority(len(homes))
        live = [h for h in homes if self._is_live(h)]
        what = f"changing {space.describe(name)}"
        if len(live) < need:
            raise errors.Unavailable(f"{what}: {len(live)} of {len(homes)} {space.acceptors_word} are live "
                                     f"({', '.join(homes)}); a change needs {need}: retry when they are back")
        # 0. read, promising nothing: a change that is refused, or keeps a record already chosen,
        # ends here without a write, so losers and readers never disturb the round of a winner.
        reads = self._gather(live, need, what, "read", lambda node: (True, *space.read(node, name)))
        for _, highest, _ in reads:
            self._saw(highest)
        current, chosen = _current([record for _, _, record in reads], need, space.order_key)
        if chosen:
            proposed = fn(current)  # a refusal propagates: the record it saw is chosen
            if proposed is current:
                return current
        # 1. prepare.
        ballot = self._next_ballot()
        promises = self._gather(live, need, what, "prepare", lambda node: space.prepare(node, name, ballot))
        current, chosen = _current([record for _, _, record in promises], need, space.order_key)
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
        record = space.with_ballot(proposed, ballot)
        self._gather(live, need, what, "accept", lambda node: space.accept(node, record))
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
        raise errors.Unavailable(f"{what}: {phase} reached {len(yes)} of the {need} {self._space.acceptors_word} "
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
        self.saw(ballot.counter)


class _BucketSpace:
    """Bucket records: acceptors are the tenant's bucket directory homes; records order by ballot,
    then version (format 1 records, from before ballots, below every format 2 one)."""

    acceptors_word = "bucket directory homes"

    def __init__(self, acceptors: Acceptors, homes: Callable[[str], Sequence[str]]) -> None:
        self._acceptors = acceptors
        self._homes = homes

    def describe(self, name: tuple) -> str:
        return f"bucket {name[1]!r}"

    def homes(self, name: tuple) -> Sequence[str]:
        return self._homes(name[0])

    def read(self, node: str, name: tuple):
        return self._acceptors.read_bucket(node, *name)

    def prepare(self, node: str, name: tuple, ballot: common_pb2.Ballot):
        return self._acceptors.prepare_bucket(node, *name, ballot)

    def accept(self, node: str, record: Record):
        return self._acceptors.accept_bucket(node, record)

    def order_key(self, record: Record) -> tuple:
        return bucket_order_key(record)

    def with_ballot(self, record: Record, ballot: common_pb2.Ballot) -> Record:
        out = Record()
        out.CopyFrom(record)
        out.format_version = BUCKET_RECORD_FORMAT_VERSION
        out.ballot.CopyFrom(ballot)
        return out

    def absent(self, name: tuple) -> Record:
        return Record(format_version=BUCKET_RECORD_FORMAT_VERSION, tenant=name[0], name=name[1], tombstone=True)


class BucketRegister:
    """The bucket register of one node: a `Register` over bucket records (thread-safe)."""

    def __init__(self, *, node_id: str, acceptors: Acceptors, homes: Callable[[str], Sequence[str]],
                 is_live: Callable[[str], bool], pool: cf.Executor, wall_ms: Callable[[], int],
                 rng: random.Random | None = None, sleep: Callable[[float], None] | None = None) -> None:
        self._register = Register(_BucketSpace(acceptors, homes), node_id=node_id, is_live=is_live, pool=pool,
                                  wall_ms=wall_ms, rng=rng, sleep=sleep)

    def change(self, tenant: str, name: str, fn: Callable[[Record | None], Record | None]) -> Record | None:
        """`Register.change` of the bucket `name` of `tenant`."""
        return self._register.change((tenant, name), fn)  # type: ignore[return-value]

    def confirm(self, tenant: str, name: str) -> Record | None:
        """`Register.confirm` of the bucket: a name no majority has a record of gets a tombstone."""
        return self._register.confirm((tenant, name))  # type: ignore[return-value]
