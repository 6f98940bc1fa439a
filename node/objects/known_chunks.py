"""Puts that send only new chunks: HasChunks, and the known chunks a PutObject stream names.

A sync client (nodectl/client/sync.py) cuts a file where the cluster does (chunk_size_bytes), hashes
each piece, asks `HasChunks` which of those chunk ids the bucket already stores, and sends the
others' bytes; for the rest its stream carries a `KnownChunk` (id and size) and the version
references the stored copies, as a multipart upload's completion does (Coordinator.reference_chunks).
Appending 1 MiB to a stored 1 GiB file sends about 1 MiB.

Scope: the bucket, not the tenant or the cluster. Copies are shared cluster-wide (a chunk stored by
two tenants is one set of copies with references from both), so "is this chunk stored?" would let
anyone test whether some other user holds a given file, and "reference this chunk" would hand them
its bytes for its hash. Both questions are therefore asked of the copies' own reference rows: a copy
counts, and takes the new version's reference, only when a version of the same bucket already
references it (HasChunkRequest.referenced_by_*, AddReferencesRequest.only_if_bucket_refers). The
caller needs put rights on the whole bucket (a key limited to a prefix is refused: the answer covers
the bucket), and a chunk that no copy will take is refused, never restored from another bucket's copy.

HasChunks asks the chunk's home nodes only (one batched call per node): a chunk whose copies sit on
stand-ins, or whose home is down, counts as absent and is simply sent again. The answer is advice:
between it and the put a chunk can lose its last reference and be collected; the put then fails
with FAILED_PRECONDITION before anything is written, and the client asks again and sends it.

An object with a known chunk has no whole-object blake3 (the coordinator never sees those bytes to
hash them; a client's claim would be unchecked), like a multipart object: every read still checks
each chunk against its id, and sync compares such objects by their chunk lists.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import itertools
from collections.abc import Iterable, Iterator, Sequence

from node import errors
from node.erasure import rechunk
from node.objects.chunk_io import copies_per_chunk, geometry_of, slot_key
from node.objects.replicas import ClusterView, HolderError, Replicas
from node.ring import chunk_position
from node.store import ShareKey
from ringstore.v1 import common_pb2, object_pb2

# Most chunk ids one HasChunks call may ask about (4 GiB of 4 MiB chunks).
HAS_CHUNKS_IDS_MAX = 1024
CHUNK_ID_BYTES = 32


def check_ids(chunk_ids: Sequence[bytes]) -> None:
    if len(chunk_ids) > HAS_CHUNKS_IDS_MAX:
        raise errors.InvalidArgument(f"HasChunks asks about {len(chunk_ids)} chunks; at most {HAS_CHUNKS_IDS_MAX} "
                                     "per call")
    for chunk_id in chunk_ids:
        if len(chunk_id) != CHUNK_ID_BYTES:
            raise errors.InvalidArgument(f"a chunk id is the {CHUNK_ID_BYTES}-byte blake3 of the chunk, not "
                                         f"{len(chunk_id)} bytes")


def held(view: ClusterView, replicas: Replicas, pool: cf.Executor, owner: tuple[str, str],
         policy: common_pb2.RedundancyPolicy, chunk_ids: Sequence[bytes]) -> list[bool]:
    """Per chunk id (checked by `check_ids`): whether every copy or share under `policy` sits on its
    live home node with a reference from a version of `owner` (tenant, bucket). One HasChunk call
    per home node."""
    ring = view.ring()
    count = copies_per_chunk(policy)
    answer = [True] * len(chunk_ids)
    asks: dict[str, list[tuple[int, ShareKey]]] = collections.defaultdict(list)
    for i, chunk_id in enumerate(chunk_ids):
        homes = ring.ordered_nodes(chunk_position(chunk_id))[:count]
        if len(homes) < count or not all(view.is_live(n) for n in homes):
            answer[i] = False
            continue
        for slot, node_id in enumerate(homes):
            asks[node_id].append((i, slot_key(chunk_id, policy, slot)))

    def ask(node_id: str) -> list[bool]:
        items = asks[node_id]
        present: list[bool] = []
        for start in range(0, len(items), HAS_CHUNKS_IDS_MAX):
            present += replicas.referenced_by(node_id, [key for _, key in items[start:start + HAS_CHUNKS_IDS_MAX]],
                                              owner)
        return present

    futures = {node_id: pool.submit(ask, node_id) for node_id in asks}
    for node_id, future in futures.items():
        try:
            present = future.result()
        except HolderError:
            present = [False] * len(asks[node_id])
        for (i, _), ok in zip(asks[node_id], present):
            answer[i] = answer[i] and ok
    return answer


def pieces(items: Iterable[memoryview | object_pb2.KnownChunk | object_pb2.WrittenChunk], chunk_size_bytes: int
           ) -> Iterator[memoryview | bytearray | object_pb2.KnownChunk | object_pb2.WrittenChunk]:
    """The put's chunks in order: data cut as `rechunk` cuts it, named chunks (known, or written by a
    direct put) passed on in place. A named chunk may come only where the data before it (since the
    start or the previous named chunk) fills whole chunks: otherwise the object's chunks would not be
    the client's."""
    short = False
    named = (object_pb2.KnownChunk, object_pb2.WrittenChunk)
    for known, group in itertools.groupby(items, key=lambda item: isinstance(item, named)):
        if known:
            if short:
                raise errors.InvalidArgument(
                    f"a known chunk follows data that does not fill whole chunks of {chunk_size_bytes} bytes; "
                    "cut the object where HasChunks' chunk_size_bytes says; nothing was stored")
            yield from group
            continue
        for chunk in rechunk(group, chunk_size_bytes):
            short = len(chunk) < chunk_size_bytes
            yield chunk


def check_known(chunk: object_pb2.KnownChunk, chunk_size_bytes: int) -> None:
    if len(chunk.chunk_id) != CHUNK_ID_BYTES:
        raise errors.InvalidArgument(f"a known chunk's id is the {CHUNK_ID_BYTES}-byte blake3 of its bytes, not "
                                     f"{len(chunk.chunk_id)} bytes; nothing was stored")
    if not 0 < chunk.size_bytes <= chunk_size_bytes:
        raise errors.InvalidArgument(f"known chunk {bytes(chunk.chunk_id).hex()[:16]} says {chunk.size_bytes} bytes; "
                                     f"a chunk is 1..{chunk_size_bytes} bytes; nothing was stored")


def completed(refs: Sequence[common_pb2.ChunkRef], policy: common_pb2.RedundancyPolicy,
              placements: dict[bytes, common_pb2.PlacementRecord | None], bucket: str) -> None:
    """Check each known chunk's claimed size against its placement record and, under erasure
    coding, copy its shares' hashes from the record into the ref (reads check shares against them).
    A chunk without a record naming every slot is refused as not stored (FailedPrecondition)."""
    geometry = geometry_of(policy)
    for ref in refs:
        chunk_id = bytes(ref.chunk_id)
        record = placements.get(chunk_id)
        slots = {h.share_index: bytes(h.blake3) for h in record.holders} if record is not None else {}
        if record is None or len(slots) < (1 if geometry is None else geometry.total_shares):
            raise errors.FailedPrecondition(
                f"chunk {chunk_id.hex()[:16]} is not fully stored for bucket {bucket}; ask HasChunks again and send "
                "its bytes; nothing was stored")
        if record.size_bytes != ref.size_bytes:
            raise errors.InvalidArgument(f"known chunk {chunk_id.hex()[:16]} is {record.size_bytes} bytes, not the "
                                         f"{ref.size_bytes} the put said; nothing was stored")
        if geometry is not None and not ref.share_blake3:  # (a chunk also sent in this put has its own)
            ref.share_blake3.extend(slots[i] for i in range(geometry.total_shares))
