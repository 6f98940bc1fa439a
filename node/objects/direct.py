"""Direct reads: a client reads a chunk, or the data shares of an erasure-coded one, from the nodes
that hold them, not through the node it asked for the object.

A get that streams through its coordinator moves every byte twice when the coordinator holds no
copy (holder -> coordinator -> client), each time over TLS, and the coordinator spends CPU on bytes
it only passes on. With direct reads the coordinator does what only it can (authorise the caller,
read the manifest from a read quorum, choose the version) and answers with a *plan*: for each chunk
of the range, its id, where it sits in the object and a *read grant*, and either the client
addresses of the live nodes that should hold a copy (replicated: this node first when it is a home
holder, then ring order, as `ChunkIO` reads them) or the data shares holding the range, each with
its blake3 from the manifest and the address of its home (erasure-coded: share i on the i-th node
of the ring from the chunk, where a put places it). The client calls `ReadChunk` on a holder per
chunk or per share, checks the bytes against the chunk id or the share's blake3 and keeps its part
of the range; anything that goes wrong on that path (no holder answers, a copy or share is missing
or fails its hash, a grant expired) sends the client back to the streamed get for the rest of the
range, which asks the placement record, reports damage to repair and decodes from parity. A holder
that finds its copy corrupt quarantines it and reports it, and one that misses a copy its own
placement record says it holds reports that.

Erasure-coded chunks need no decoding on this path: the data shares are the chunk cut in K (the last
zero-padded), so a stripe whose data shares are all on their live homes is read as they are. One
whose home is not live, or that repair moved elsewhere, is left to the streamed get, which finds
moved shares through the placement record. Only clients that say they read shares
(GetObjectRequest.direct_shares_ok) get them in a plan.

A read grant is HMAC-SHA256, under the cluster key's read-grant subkey (ringstore/auth/keys.py),
of the chunk id and an expiry, and allows reading any stored copy or share of that chunk. It names
no tenant: chunk ids are blake3 of the content, so whoever holds a grant for an id was allowed to
read an object made of those bytes and learns nothing new by reading them (or shares made of them)
again. It is a bearer token, like an S3 presigned URL, kept short (GRANT_TTL_S) and only ever sent
over the client's TLS connection. Holders check it without any lookup, so a grant outlives the
revocation of the key it was given to by at most its TTL; share-link callers get no plan (a link
may be limited to part of one chunk).

Rejected: grants that list every chunk of a get (one MAC for the lot): each ReadChunk would then
carry the whole list for the holder to check, 8 KiB per call for a 1 GiB object. Rejected: reading
the chunks through the peer port: it takes node certificates only, and a client is not a node.
Rejected: asking the placement record for each erasure-coded chunk before planning it (the
streamed get does): a call per chunk on every get, to find shares that repair moved, which the
fallback finds anyway.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
from collections.abc import Callable

from node import errors
from node.erasure import Geometry
from node.objects import compression
from node.objects.chunk_io import REPLICA_READ_EXTRA_HOLDERS
from node.objects.placement import read_order
from node.objects.replicas import ClusterView
from node.ring import chunk_position
from ringstore import frames
from ringstore.v1 import common_pb2, object_pb2

GRANT_TTL_S = 300
# A range this small comes whole in the get's first message (frames.INFO_DATA_BYTES_MAX): one round
# trip, where a plan would take two.
DIRECT_BYTES_MIN = frames.INFO_DATA_BYTES_MAX
# Chunks one plan names (1 GiB at 4 MiB chunks); the client asks again, from where the plan ends.
PLAN_CHUNKS_MAX = 256
GRANT_LABEL = b"ringstore read grant v1."
GRANT_BYTES = 32
CHUNK_ID_BYTES = 32


def grant_mac(key: bytes, chunk_id: bytes, expires_unix_ms: int) -> bytes:
    return hmac.new(key, GRANT_LABEL + chunk_id + expires_unix_ms.to_bytes(8, "big"), hashlib.sha256).digest()


class ReadGrants:
    """Issues and checks chunk read grants under one key, on the node's wall clock."""

    def __init__(self, key: bytes, wall_ms: Callable[[], int], ttl_s: float = GRANT_TTL_S) -> None:
        self._key = key
        self._wall_ms = wall_ms
        self._ttl_ms = int(ttl_s * 1000)

    def issue(self, chunk_id: bytes) -> tuple[int, bytes]:
        """(expires_unix_ms, grant) for reading the chunk `chunk_id`."""
        expires = self._wall_ms() + self._ttl_ms
        return expires, grant_mac(self._key, chunk_id, expires)

    def check(self, chunk_id: bytes, expires_unix_ms: int, grant: bytes) -> None:
        """Unauthenticated, one line, unless `grant` allows reading `chunk_id` now."""
        if len(chunk_id) != CHUNK_ID_BYTES or len(grant) != GRANT_BYTES:
            raise errors.Unauthenticated(f"ReadChunk needs a {CHUNK_ID_BYTES}-byte chunk id and the "
                                         f"{GRANT_BYTES}-byte grant a GetObject answer gave for it: get the "
                                         "object again")
        if not hmac.compare_digest(grant_mac(self._key, chunk_id, expires_unix_ms), grant):
            raise errors.Unauthenticated("the read grant does not check out for this chunk (it was made for "
                                         "another chunk, or by another cluster): get the object again")
        late_ms = self._wall_ms() - expires_unix_ms
        if late_ms > 0:
            raise errors.Unauthenticated(f"the read grant expired {late_ms / 1000:.1f} s ago: get the object again")


class DirectReads:
    """Plans of direct reads (see the module docstring) for this node's gets."""

    def __init__(self, view: ClusterView, grants: ReadGrants, client_address_of: Callable[[str], str]) -> None:
        self._view = view
        self._grants = grants
        # node id -> its client port's address ("" when unknown, or a node older than direct reads).
        self._client_address_of = client_address_of
        # Whether plans may name erasure-coded chunks (the client reads shares: reading_shares).
        self.shares = False
        # Whether a range whose every chunk is held here is planned too (planning_held_here), not streamed.
        self.held_here = False

    def reading_shares(self, shares: bool) -> DirectReads:
        """This planner for a client that reads erasure-coded chunks share by share (`shares`), or
        one that reads replicated chunks only (a client older than DirectChunk.shares)."""
        if shares == self.shares:
            return self
        other = copy.copy(self)
        other.shares = shares
        return other

    def planning_held_here(self) -> DirectReads:
        """This planner, also planning ranges whose every chunk is held here. For OpenObject: its
        client would otherwise open a GetObject stream, a second call that asks the manifest's homes
        again, where a plan's ReadChunk to this node only reads the chunk."""
        other = copy.copy(self)
        other.held_here = True
        return other

    def applies(self, manifest: common_pb2.Manifest, start: int, length: int) -> bool:
        """Whether `plan` would answer this range with a plan (the same rules, no grants made)."""
        return bool(self.plan(manifest, start, length, grants=False))

    def plan(self, manifest: common_pb2.Manifest, start: int, length: int, *,
             grants: bool = True) -> list[object_pb2.DirectChunk]:
        """The chunks of [start, start + length) with holders' addresses and grants, at most
        PLAN_CHUNKS_MAX from the first; [] when the range is better streamed: inline or at most
        DIRECT_BYTES_MIN, erasure-coded for a client that reads no shares, a chunk with no live
        holder whose client address is known, or every chunk held here unless `held_here` (streaming
        them costs the one hop a direct read would, without its second call)."""
        kind = manifest.policy.WhichOneof("policy")
        if (manifest.inline or length <= DIRECT_BYTES_MIN
                or not (kind == "replication" or (kind == "erasure_coding" and self.shares))):
            return []
        end = start + length
        plan: list[object_pb2.DirectChunk] = []
        elsewhere = False  # a chunk this node should not hold
        for ref in manifest.chunks:
            if ref.offset_bytes + compression.plain_size(ref) <= start or ref.offset_bytes >= end:
                continue
            if compression.is_transformed(ref):
                return []  # the node decompresses or decrypts it (node/objects/compression.py, at_rest.py)
            if kind == "replication":
                entry, here = self._replicated(ref, manifest.policy.replication.replicas)
            else:
                entry, here = self._striped(ref, manifest.policy.erasure_coding, start, end)
            if entry is None:
                return []
            elsewhere = elsewhere or not here
            if grants:
                entry.expires_unix_ms, entry.grant = self._grants.issue(bytes(ref.chunk_id))
            plan.append(entry)
            if len(plan) == PLAN_CHUNKS_MAX:
                break
        return plan if elsewhere or self.held_here else []

    def _replicated(self, ref: common_pb2.ChunkRef, replicas: int) -> tuple[object_pb2.DirectChunk | None, bool]:
        """A replicated chunk's entry (None: no holder to name) and whether this node should hold it."""
        chunk_id = bytes(ref.chunk_id)
        live = read_order(self._view.ring(), chunk_position(chunk_id),
                          self._view.is_live)[:replicas + REPLICA_READ_EXTRA_HOLDERS]
        # This node first when it should hold a copy: the client already has a connection to it.
        # (Not when it is only one of the extra nodes a handoff copy may be on: asking it first
        # would cost most reads a NOT_FOUND round trip.)
        here = self._view.node_id in live[:replicas]
        if here:
            live.remove(self._view.node_id)
            live.insert(0, self._view.node_id)
        addresses = [a for a in map(self._client_address_of, live) if a]
        if not addresses:
            return None, here
        return object_pb2.DirectChunk(chunk_id=chunk_id, offset_bytes=ref.offset_bytes, size_bytes=ref.size_bytes,
                                      addresses=addresses), here

    def _striped(self, ref: common_pb2.ChunkRef, ec: common_pb2.ErasureCoding, start: int,
                 end: int) -> tuple[object_pb2.DirectChunk | None, bool]:
        """An erasure-coded chunk's entry: the data shares holding [start, end), each on its home
        (share i on the i-th node of the ring from the chunk, where a put places it). None when one
        of those homes is not live or announced no client address, or the manifest's share hashes
        do not fit the geometry: the streamed get finds moved shares through the placement record
        and decodes from parity. Never "held here": at most one of K shares is."""
        k, m = ec.data_shares, ec.parity_shares
        if len(ref.share_blake3) != k + m or k < 1:
            return None, False
        share_bytes = Geometry(k, m).share_size_bytes(ref.size_bytes)
        lo = max(start, ref.offset_bytes) - ref.offset_bytes
        hi = min(end, ref.offset_bytes + ref.size_bytes) - ref.offset_bytes
        homes = self._view.ring().ordered_nodes(chunk_position(bytes(ref.chunk_id)))[:k + m]
        entry = object_pb2.DirectChunk(chunk_id=ref.chunk_id, offset_bytes=ref.offset_bytes, size_bytes=ref.size_bytes,
                                       data_shares=k, parity_shares=m)
        for index in range(lo // share_bytes, (hi - 1) // share_bytes + 1):
            home = homes[index] if index < len(homes) else ""
            address = self._client_address_of(home) if home and self._view.is_live(home) else ""
            if not address:
                return None, False
            entry.shares.add(share_index=index, blake3=ref.share_blake3[index], addresses=[address])
        return entry, False
