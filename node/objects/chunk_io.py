"""Storing and reading one chunk under its redundancy policy: N whole copies, or K+M zfec shares.

Both policies go through one write path. A chunk becomes a list of *slots*: under `replicas=N`, N
slots holding the same bytes (key `ShareKey(chunk_id)`, hash = chunk id); under `ec=K+M`, K+M slots
holding share i (key `ShareKey(chunk_id, i, K, M)`, hash = blake3 of the share). Slot i goes to the
i-th node of the chunk's preference list (a DOWN node's slot to the next live node, as a handoff
copy), every slot must be fsynced before the chunk counts as stored, and the placement record
beside every copy names the holder and hash of every slot. An erasure stripe therefore never has
two shares on one node: fewer than K+M live nodes is UNAVAILABLE, not a silently weaker stripe.

Reads differ. A replica read asks holders one at a time (each has the whole chunk). A stripe read
asks K holders at once, preferring the K data shares: a healthy read is a concatenation and runs no
decoder, and a byte range needs only the data shares it covers. Every share is checked against the
blake3 the manifest recorded for it before it is used, and a decoded chunk against its chunk id, so
a bad share costs one more fetch, never wrong bytes. Too few good copies is DATA_LOSS only when the
loss is certain; when holders that may come back (DOWN, SUSPECT, not answering) could make up the
difference, the read is UNAVAILABLE, which clients retry. A share that is missing, corrupt or
unreachable is replaced by the next parity share; one that is merely slow gets a parity share asked
in parallel after `read_hedge_after_s`. Every such copy is reported to the repair queue.

Rejected: fetching all K+M shares of every stripe and using the first K (a "fastest K" read). It
reads 1.5x the bytes under 4+2 on every get, and on this 2-core machine the extra CPU costs more
than the tail latency it saves; the hedge buys the same protection against a slow disk only when a
disk is actually slow.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import logging
from typing import Callable, Iterable, Sequence

import blake3

from node import errors
from node.erasure import Geometry, chunk_id_of, decode, encode
from node.erasure.chunking import Buffer
from node.metrics import Metrics
from node.objects.placement import Assignment, choose_targets, read_order
from node.objects.quorum import write_quorum
from node.objects.replicas import ClusterView, HolderError, Replicas
from node.ring import chunk_position
from node.store import ShareKey
from ringstore.v1 import common_pb2

log = logging.getLogger("ringstore.objects")

FORMAT_VERSION = 1
# Extra replica holders a read asks, beyond the N home holders, before consulting the placement record
# (handoff copies sit right after the home set in preference order).
REPLICA_READ_EXTRA_HOLDERS = 2

# report_damage(chunk_id, data_shares, parity_shares, share_index, node_id, reason)
DamageSink = Callable[[bytes, int, int, "int | None", str, str], None]

_REASON_OF_KIND = {"not_found": "missing", "corrupt": "corrupt", "unavailable": "unreachable",
                   "full": "unreachable", "other": "unreachable"}
# Member states of a holder that may come back with its copies: a read short of copies because of
# them is UNAVAILABLE (retry later), never DATA_LOSS. OUT and LEFT holders took their disks away.
_MAY_RETURN = frozenset({"SUSPECT", "DOWN"})


def geometry_of(policy: common_pb2.RedundancyPolicy) -> Geometry | None:
    """The K+M of an erasure-coded policy; None under replication."""
    if policy.WhichOneof("policy") != "erasure_coding":
        return None
    ec = policy.erasure_coding
    return Geometry(ec.data_shares, ec.parity_shares)


def policy_text(policy: common_pb2.RedundancyPolicy) -> str:
    """"replicas=N" or "ec=K+M", as users write it."""
    geometry = geometry_of(policy)
    return f"replicas={policy.replication.replicas}" if geometry is None else f"ec={geometry}"


def copies_per_chunk(policy: common_pb2.RedundancyPolicy) -> int:
    geometry = geometry_of(policy)
    return policy.replication.replicas if geometry is None else geometry.total_shares


def copy_size_bytes(policy: common_pb2.RedundancyPolicy, chunk_size_bytes: int) -> int:
    """Bytes one replica or one share of a chunk takes on disk."""
    geometry = geometry_of(policy)
    return chunk_size_bytes if geometry is None else geometry.share_size_bytes(chunk_size_bytes)


def slot_key(chunk_id: bytes, policy: common_pb2.RedundancyPolicy, slot: int) -> ShareKey:
    """The store key of one slot: the replica key under replication, share `slot` under ec."""
    geometry = geometry_of(policy)
    if geometry is None:
        return ShareKey(chunk_id)
    return ShareKey(chunk_id, slot, geometry.data_shares, geometry.parity_shares)


def share_holders(assignments: Iterable[Assignment], hashes: Sequence[bytes]) -> list[common_pb2.ShareHolder]:
    """A placement record's holder entries for these copies, in slot order; `hashes[slot]` is each
    slot's blake3 (the chunk id for every replica)."""
    return [common_pb2.ShareHolder(node_id=a.node_id, share_index=a.slot, handoff_for_node_id=a.handoff_for,
                                   blake3=hashes[a.slot])
            for a in sorted(assignments, key=lambda a: a.slot)]


def holder_key(record: common_pb2.PlacementRecord, share_index: int) -> ShareKey:
    """The store key of the copy a placement record's holder entry names."""
    return slot_key(bytes(record.chunk_id), record.policy, share_index)


@dataclasses.dataclass(frozen=True)
class StripeRead:
    """Shares gathered for one stripe: index -> verified bytes, and what went wrong on the way."""

    good: dict[int, bytes]
    asked: list[str]
    degraded: bool
    # Share index -> the node that holds it (per the placement record, else the ring's homes).
    holders: dict[int, str]
    # Share indexes a holder could not be reached for (the share may well be intact there).
    unreachable: frozenset[int] = frozenset()


class ChunkIO:
    """Stores and reads single chunks for the coordinator (and, later, for repair)."""

    def __init__(self, *, view: ClusterView, replicas: Replicas, send_pool: cf.Executor,
                 wall_ms: Callable[[], int], metrics: Metrics | None, report_damage: DamageSink,
                 read_hedge_after_s: float) -> None:
        self._view = view
        self._replicas = replicas
        self._send_pool = send_pool
        self._wall_ms = wall_ms
        self._metrics = metrics
        self._report_damage = report_damage
        self._read_hedge_after_s = read_hedge_after_s

    # -- write ----------------------------------------------------------------------------------

    def store(self, data: Buffer, offset: int, policy: common_pb2.RedundancyPolicy, name: str,
              ref: common_pb2.ObjectRef) -> common_pb2.ChunkRef:
        """Put every slot of the chunk on its holder; returns once all are fsynced and verified."""
        chunk_id = chunk_id_of(data)
        geometry = geometry_of(policy)
        wire = None
        if geometry is None:
            count = policy.replication.replicas
            payloads: list = [data] * count
            hashes = [chunk_id] * count
            if count > 1:
                wire = self._replicas.framed(data)  # framed once for every holder
        else:
            payloads = encode(data, geometry)
            hashes = [blake3.blake3(share).digest() for share in payloads]
            count = geometry.total_shares
            if self._metrics is not None:
                self._metrics.erasure_encode_bytes.inc(len(data))
        what = f"storing chunk {chunk_id.hex()[:16]} of {name} ({policy_text(policy)})"
        targets = choose_targets(self._view.ring(), chunk_position(chunk_id), count, self._view.is_live,
                                 what=what, full=self._view.full_nodes())
        placement = common_pb2.PlacementRecord(format_version=FORMAT_VERSION, chunk_id=chunk_id, policy=policy,
                                               size_bytes=len(data), updated_at_unix_ms=self._wall_ms())

        placement.holders.extend(share_holders(targets.assignments, hashes))
        acked = write_quorum(
            self._send_pool, targets, count,
            lambda a: self._replicas.store_share(a.node_id, slot_key(chunk_id, policy, a.slot), payloads[a.slot],
                                                 placement, hashes[a.slot], a.handoff_for, ref, wire=wire),
            what=what)
        if set(acked) != set(targets.assignments):
            # A holder failed and a spare stood in: every holder must name the actual holders.
            placement.ClearField("holders")
            placement.holders.extend(share_holders(acked, hashes))
            write_quorum(self._send_pool, dataclasses.replace(targets, assignments=tuple(acked), spares=()),
                         len(acked), lambda a: self._replicas.put_placement(a.node_id, placement),
                         what=f"updating the placement of chunk {chunk_id.hex()[:16]}")
        chunk = common_pb2.ChunkRef(chunk_id=chunk_id, size_bytes=len(data), offset_bytes=offset)
        if geometry is not None:
            chunk.share_blake3.extend(hashes)
        return chunk

    # -- placement ------------------------------------------------------------------------------

    def placement(self, ref: common_pb2.ChunkRef, policy: common_pb2.RedundancyPolicy,
                  skip: Iterable[str] = ()) -> common_pb2.PlacementRecord | None:
        """The chunk's placement record under `policy`, from the first live node in preference order
        that has one."""
        geometry = geometry_of(policy)
        if geometry is None:
            return self._placement(bytes(ref.chunk_id), 0, 0, skip)
        return self._placement(bytes(ref.chunk_id), geometry.data_shares, geometry.parity_shares, skip)

    def _placement(self, chunk_id: bytes, data_shares: int, parity_shares: int,
                   skip: Iterable[str]) -> common_pb2.PlacementRecord | None:
        skipped = set(skip)
        for node_id in read_order(self._view.ring(), chunk_position(chunk_id), self._view.is_live):
            if node_id in skipped:
                continue
            try:
                record = self._replicas.get_placement(node_id, chunk_id, data_shares, parity_shares)
            except HolderError:
                continue
            if record is not None:
                return record
        return None

    # -- read -----------------------------------------------------------------------------------

    def read(self, ref: common_pb2.ChunkRef, policy: common_pb2.RedundancyPolicy, name: str,
             lo: int = 0, hi: int | None = None) -> memoryview:
        """Bytes [lo, hi) of the chunk, verified; DataLoss when no intact copy or K good shares exist."""
        hi = ref.size_bytes if hi is None else hi
        assert 0 <= lo <= hi <= ref.size_bytes, (lo, hi, ref.size_bytes)
        geometry = geometry_of(policy)
        if geometry is None:
            return memoryview(self._read_replica(ref, policy.replication.replicas, name))[lo:hi]
        return self._read_stripe(ref, geometry, name, lo, hi)

    def _damage(self, chunk_id: bytes, key: ShareKey, node_id: str, reason: str) -> None:
        self._report_damage(chunk_id, key.data_shares, key.parity_shares, key.share_index, node_id, reason)

    def _read_replica(self, ref: common_pb2.ChunkRef, replicas: int, name: str) -> bytes:
        chunk_id = bytes(ref.chunk_id)
        key = ShareKey(chunk_id)
        ordered = self._view.ring().ordered_nodes(chunk_position(chunk_id))
        candidates = [n for n in ordered if self._view.is_live(n)]
        window = replicas + REPLICA_READ_EXTRA_HOLDERS
        if self._view.node_id in candidates[:window]:
            candidates.remove(self._view.node_id)
            candidates.insert(0, self._view.node_id)
        asked: list[str] = []
        tried: set[str] = set()
        unreachable: set[str] = set()
        # Nodes meant to hold a copy: the home set, then whatever the placement record names. The
        # nodes after the home set are asked too (handoff copies live there), but a copy they lack
        # was never expected, so it is not reported to the repair queue.
        expected = set(ordered[:replicas])

        def attempt(node_id: str) -> bytes | None:
            tried.add(node_id)
            try:
                data = self._replicas.fetch_checked(node_id, key, chunk_id)
            except HolderError as err:
                asked.append(f"{node_id}: {err.kind.replace('_', ' ')}")
                if err.kind == "unavailable":
                    unreachable.add(node_id)
                if node_id in expected or err.kind != "not_found":
                    self._damage(chunk_id, key, node_id, _REASON_OF_KIND[err.kind])
                return None
            if data is None or len(data) != ref.size_bytes:
                asked.append(f"{node_id}: corrupt (blake3 mismatch)")
                self._damage(chunk_id, key, node_id, "corrupt")
                return None
            return data

        for node_id in candidates[:window]:
            data = attempt(node_id)
            if data is not None:
                self._count_degraded("replication", bool(asked))
                return data
        # Not where the ring says (the ring changed, or a spare stood in): the placement record
        # names the actual holders.
        record = self._placement(chunk_id, 0, 0, unreachable)
        expected.update(h.node_id for h in (record.holders if record is not None else ()))
        for holder in (record.holders if record is not None else ()):
            if holder.node_id not in tried and self._view.is_live(holder.node_id):
                data = attempt(holder.node_id)
                if data is not None:
                    self._count_degraded("replication", True)
                    return data
        where = (f"chunk {chunk_id.hex()[:16]} of {name} (offset {ref.offset_bytes}): no intact copy found; "
                 f"asked {', '.join(asked) or 'no live node'}")
        # A copy may be intact on a holder nobody could reach: nothing is known lost yet.
        waiting = sorted(n for n in expected
                         if n in unreachable or (n not in tried and self._view.state_name(n) in _MAY_RETURN))
        if waiting:
            raise errors.Unavailable(f"{where}; readable again once {', '.join(waiting)} answer: retry later")
        raise errors.DataLoss(where)

    def _count_degraded(self, policy: str, degraded: bool) -> None:
        if degraded and self._metrics is not None:
            self._metrics.degraded_reads.labels(policy).inc()

    def _read_stripe(self, ref: common_pb2.ChunkRef, geometry: Geometry, name: str, lo: int, hi: int) -> memoryview:
        chunk_id = bytes(ref.chunk_id)
        k, n = geometry.data_shares, geometry.total_shares
        if len(ref.share_blake3) != n:
            raise errors.DataLoss(
                f"chunk {chunk_id.hex()[:16]} of {name}: its manifest records {len(ref.share_blake3)} share "
                f"hashes for ec={geometry} (expected {n}); the manifest is damaged")
        share_bytes = geometry.share_size_bytes(ref.size_bytes)
        whole = lo == 0 and hi == ref.size_bytes
        # The data shares covering [lo, hi): enough on their own when every one of them is intact.
        first, last = lo // share_bytes, min(k - 1, max(lo, hi - 1) // share_bytes)
        wanted = list(range(k)) if whole else list(range(first, last + 1))
        read = self._gather(ref, geometry, wanted)
        if not whole and all(i in read.good for i in wanted):
            self._count_degraded("ec", read.degraded)
            joined = b"".join(read.good[i] for i in wanted)
            return memoryview(joined)[lo - first * share_bytes:hi - first * share_bytes]
        if len(read.good) < k:
            found = ", ".join(str(i) for i in sorted(read.good)) or "none"
            away = {i: node for i, node in sorted(read.holders.items())
                    if i not in read.good and not self._view.is_live(node)}
            where = (f"chunk {chunk_id.hex()[:16]} of {name} (offset {ref.offset_bytes}, ec={geometry}): only "
                     f"{len(read.good)} of the {k} shares needed are intact (found shares: {found})"
                     + (f"; failed: {', '.join(read.asked)}" if read.asked else "")
                     + (f"; not asked, holder not ALIVE: "
                        f"{', '.join(f'share {i} on {node} ({self._view.state_name(node)})' for i, node in away.items())}"
                        if away else ""))
            # Shares that may be intact where nobody could reach them: a holder that is DOWN or
            # SUSPECT (not OUT: its disk left the cluster), or that did not answer. If they would
            # make K, nothing is known lost, and the read is UNAVAILABLE (retry), not DATA_LOSS.
            waiting = {i for i, node in away.items() if self._view.state_name(node) in _MAY_RETURN}
            waiting |= read.unreachable - set(read.good)
            if len(read.good) + len(waiting) >= k:
                raise errors.Unavailable(f"{where}; readable again once the holders of shares "
                                         f"{', '.join(map(str, sorted(waiting)))} answer: retry later")
            raise errors.DataLoss(where)
        parity_used = not all(i in read.good for i in range(k))
        data = decode(read.good, geometry, ref.size_bytes)
        if parity_used and self._metrics is not None:
            self._metrics.erasure_decode_bytes.inc(ref.size_bytes)
        if chunk_id_of(data) != chunk_id:
            # Every share matched its recorded hash, so the manifest's hashes and chunk id disagree.
            raise errors.DataLoss(
                f"chunk {chunk_id.hex()[:16]} of {name}: shares {sorted(read.good)} match their recorded "
                "hashes but decode to different bytes; the manifest is damaged")
        self._count_degraded("ec", read.degraded or parity_used)
        return memoryview(data)[lo:hi]

    def _gather(self, ref: common_pb2.ChunkRef, geometry: Geometry, wanted: list[int]) -> StripeRead:
        """Fetch and verify shares until every index in `wanted` is good, or, once one of them cannot
        be had quickly (missing, corrupt, unreachable, slower than the hedge delay), until any K are.

        Candidates, best first: the wanted shares from their home nodes, then (in fallback) the
        other shares from theirs, then what the placement record names (handoff copies and stand-ins
        for holders that failed mid-write). Ends with fewer than K good shares only when every
        candidate has been tried."""
        chunk_id = bytes(ref.chunk_id)
        k, m, n = geometry.data_shares, geometry.parity_shares, geometry.total_shares
        hashes = list(ref.share_blake3)
        homes = self._view.ring().ordered_nodes(chunk_position(chunk_id))[:n]
        good: dict[int, bytes] = {}
        asked: list[str] = []
        unreachable: set[int] = set()
        tried: set[tuple[int, str]] = set()
        running: dict[cf.Future, tuple[int, str]] = {}
        # Where each share is: the placement record says (repair and rebalancing move shares to
        # whichever home moves least, so share i is not always on the i-th home); the ring's
        # homes are the guess when no record answers.
        record = self._placement(chunk_id, k, m, ())
        located = ({h.share_index: h.node_id for h in record.holders if h.share_index < n} if record is not None
                   else dict(enumerate(homes)))
        # A wanted share whose holder is not ALIVE: ask a parity share in the first round, not after it.
        fallback = any(i not in located or not self._view.is_live(located[i]) for i in wanted)
        hedges = 0

        def candidates() -> list[tuple[int, str]]:
            indexes = wanted if not fallback else wanted + [i for i in range(n) if i not in wanted]
            pairs = [(i, located[i]) for i in indexes if i in located and self._view.is_live(located[i])]
            pairs += [(i, homes[i]) for i in indexes if i < len(homes) and self._view.is_live(homes[i])]
            return [(i, node) for i, node in pairs if i not in good and (i, node) not in tried]

        def enough() -> bool:
            return all(i in good for i in wanted) or (fallback and len(good) >= k)

        def fetch(index: int, node_id: str) -> bytes | None:
            return self._replicas.fetch_checked(node_id, ShareKey(chunk_id, index, k, m), hashes[index])

        try:
            while not enough():
                target = (k if fallback else len(wanted)) + hedges
                busy = {i for i, _ in running.values()}
                for index, node_id in candidates():
                    if len(good) + len(busy) >= target:
                        break
                    if index not in busy:
                        tried.add((index, node_id))
                        busy.add(index)
                        running[self._send_pool.submit(fetch, index, node_id)] = (index, node_id)
                if not running:
                    if not fallback:
                        fallback = True
                        continue
                    break  # every candidate tried
                done, _ = cf.wait(running, timeout=self._read_hedge_after_s, return_when=cf.FIRST_COMPLETED)
                if not done:
                    fallback, hedges = True, hedges + 1  # a slow holder: ask one more share alongside
                    continue
                for future in done:
                    index, node_id = running.pop(future)
                    key = ShareKey(chunk_id, index, k, m)
                    try:
                        data = future.result()
                    except HolderError as err:
                        asked.append(f"{node_id} (share {index}): {err.kind.replace('_', ' ')}")
                        if err.kind == "unavailable":
                            unreachable.add(index)
                        if located.get(index) == node_id or err.kind != "not_found":
                            self._damage(chunk_id, key, node_id, _REASON_OF_KIND[err.kind])
                        fallback = True
                        continue
                    if data is None:
                        asked.append(f"{node_id} (share {index}): corrupt (blake3 mismatch)")
                        self._damage(chunk_id, key, node_id, "corrupt")
                        fallback = True
                        continue
                    good.setdefault(index, data)
        finally:
            for future in running:
                future.cancel()
        return StripeRead(good=good, asked=asked, degraded=fallback, holders=located,
                          unreachable=frozenset(unreachable))

