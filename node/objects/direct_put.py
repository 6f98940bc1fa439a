"""Direct puts: a client writes each replicated chunk's copies straight to their holders, and the
coordinator keeps what only it can do (authorise, stamp the version, place, write the manifest).

A streamed put moves every byte over one TLS hop more than it stores it (client -> coordinator,
then coordinator -> each remote holder), and the coordinator spends CPU and memory relaying bytes it
only passes on: in session 21's profile 5.4 of a replicated 1 GiB put's 12.4 ms of CPU per MB, and
the put's whole resident peak. A direct put takes the coordinator off the data path:

1. `PlanPut` with the put's header (its size required) and the first chunks' ids and sizes. The
   coordinator checks the header as PutObject would, stamps the version (the put's start, as a
   streamed put stamps it), and answers a *put token* (the version, HMAC'd) and, per chunk, a
   *copy write* for each of its holders: the node, its client address, the copy's store header (the
   placement record naming every holder, the version as the copy's reference) and a *write grant*,
   an HMAC over the node id, the expiry and that header. Later calls carry the token and place more
   chunks.
2. `WriteChunk` to each holder, all at once: the chunk's bytes as the message (made once by the
   client and sent to every holder as it is) and the copy's header and grant in the call's metadata.
   The holder checks the grant, then stores the copy as a peer's StoreShare would (the blake3
   checked against the chunk id, fsynced) and answers a *receipt*: an HMAC over its own node id and
   the header.
3. The `PutObject` stream, opened after the first plan with the token in its header, names each
   chunk in order as a `WrittenChunk` with every copy's header and receipt. The coordinator checks
   that the receipts are the cluster's, that they cover every holder of the chunk's placement and
   that each header references this put's version, and writes the manifest as for a streamed put.
   A chunk whose write failed anywhere (a holder down, full, or slow) goes as bytes in the same
   stream instead, and the coordinator stores it the usual way, with stand-ins for failed holders.

What keeps the promises. No acknowledgement before every holder has fsynced: a receipt is made
only after the copy is durable, and the manifest needs one from every holder the placement names.
Every byte verified: the holder hashes the copy against its chunk id, as for a peer's write. An
abandoned put leaves copies referenced by a version no manifest holds, which garbage collection
takes for an abandoned write after its grace, as for a coordinator that dies mid-put; the token
expires with half that grace (`Coordinator._check_duration`). Nothing a client holds lets it
write a copy the cluster did not place: grants are made by a node for one holder and one header,
and a client that has the bytes of a chunk (it must, for the hash to check) learns nothing by
writing it; receipts cannot be made without the cluster key, so a manifest never names a copy that
was not stored. Grants and receipts are bearer tokens like read grants, only sent over TLS.

Where it applies: replicated policies, objects larger than one chunk, without compression or
encryption at rest (the node compresses and seals chunks with keys clients never see), not a part
of a multipart upload. Anything else answers direct=false with the reason, and the client streams.
Erasure-coded puts stay streamed: they already met issue 15's targets, and the client would have to
encode.

The object has no whole-object blake3 (like a put with known chunks: the coordinator never sees the
bytes, and a client's claim would go unchecked); every read checks each chunk against its id.

What it bought (`python -m bench.profile --case put-1g`, six nodes, TLS, three alternating pairs
against 054d0ca): a replicated 1 GiB put in 6.08-6.83 s instead of 6.66-7.21, at 9.9-11.2 ms of CPU
per MB over every process instead of 11.0-11.9; the coordinator 4.95 -> 1.30 ms per MB (its own
half copy and the plans and checks: about 0.25), the client 1.63 -> 3.34 (it sends three copies);
the coordinator's resident peak 158-165 -> 112-114 MiB, the client's 84 -> 137-140 (a fresh client
putting a file: 54 -> 111-116). The messages matter: with the header inside each holder's message,
each was a copy of the chunk of its own, and the client spent 4.3-4.8 ms per MB, a quarter of its
samples in memmove, for no gain in all.

Rejected: the first holder forwarding the other copies (the client sends one copy, as Ceph's
primary does): measured 11.75 ms per MB and 7.84 s for the same put, the nodes' peer path costing
more per forwarded copy than the client's unary calls, with every node's peak at 138-149 MiB.
Rejected: the holders' own placement records, each written by its holder from its ring (a client
could then pick a placement, and holders would disagree during ring changes). Rejected: the
coordinator asking each holder whether it stored a copy before the manifest (a round trip per
holder per put, where a receipt is checked locally). Rejected: chain replication (client -> first
holder -> second -> third): the same three hops per MB, with a holder's failure mid-chain harder to
tell from a slow one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from node import errors
from node.objects.chunk_io import FORMAT_VERSION, share_holders
from node.objects.placement import choose_targets
from node.objects.replicas import ClusterView, share_ref
from node.ring import chunk_position
from node.store import ShareKey
from ringstore.v1 import common_pb2, object_pb2, peer_pb2

MAC_BYTES = 32
CHUNK_ID_BYTES = 32
# Chunks one PlanPut call may place (64 MiB of 4 MiB chunks); a client asks again for more.
PLAN_CHUNKS_MAX = 16
# Longest a direct put's token (and its grants) lasts when gc_grace_s sets no shorter bound.
DIRECT_PUT_TOKEN_TTL_S = 3600.0
_GRANT_LABEL = b"ringstore write grant v1."
_RECEIPT_LABEL = b"ringstore write receipt v1."
_TOKEN_LABEL = b"ringstore put token v1."


class WriteKeys:
    """Makes and checks put tokens, write grants and receipts under one key, on the node's wall clock."""

    def __init__(self, key: bytes, wall_ms: Callable[[], int]) -> None:
        self._key = key
        self._wall_ms = wall_ms

    def _mac(self, *parts: bytes) -> bytes:
        return hmac.new(self._key, b"".join(parts), hashlib.sha256).digest()

    # -- put tokens -------------------------------------------------------------------------------

    def token(self, body: object_pb2.DirectPutToken) -> bytes:
        raw = body.SerializeToString(deterministic=True)
        return raw + self._mac(_TOKEN_LABEL, raw)

    def open_token(self, token: bytes) -> object_pb2.DirectPutToken:
        """The token's contents; Unauthenticated unless this cluster made it, FailedPrecondition once
        it has expired."""
        raw, mac = token[:-MAC_BYTES], token[-MAC_BYTES:]
        if len(token) <= MAC_BYTES or not hmac.compare_digest(self._mac(_TOKEN_LABEL, raw), mac):
            raise errors.Unauthenticated("the direct put token does not check out (made by another cluster, or "
                                         "damaged): put the object again")
        body = object_pb2.DirectPutToken.FromString(raw)
        late_ms = self._wall_ms() - body.expires_unix_ms
        if late_ms > 0:
            raise errors.FailedPrecondition(f"the direct put's token expired {late_ms / 1000:.1f} s ago (a put may "
                                            "take half of repair.gc_grace_s); nothing was stored: put it again")
        return body

    # -- write grants -----------------------------------------------------------------------------

    def grant(self, node_id: str, expires_unix_ms: int, header: bytes) -> bytes:
        return self._mac(_GRANT_LABEL, node_id.encode(), b"\0", expires_unix_ms.to_bytes(8, "big"), header)

    def check_grant(self, node_id: str, expires_unix_ms: int, header: bytes, grant: bytes) -> None:
        """Unauthenticated, one line, unless `grant` allows writing the copy `header` on `node_id` now."""
        if len(grant) != MAC_BYTES or not hmac.compare_digest(self.grant(node_id, expires_unix_ms, header), grant):
            raise errors.Unauthenticated("the write grant does not check out for this node and copy (it was made for "
                                         "another holder, or by another cluster): plan the put again")
        late_ms = self._wall_ms() - expires_unix_ms
        if late_ms > 0:
            raise errors.Unauthenticated(f"the write grant expired {late_ms / 1000:.1f} s ago: put the object again")

    # -- receipts ---------------------------------------------------------------------------------

    def receipt(self, node_id: str, header: bytes) -> bytes:
        return self._mac(_RECEIPT_LABEL, node_id.encode(), b"\0", header)

    def receipt_ok(self, node_id: str, header: bytes, receipt: bytes) -> bool:
        return len(receipt) == MAC_BYTES and hmac.compare_digest(self.receipt(node_id, header), receipt)


# Room in a WriteChunk message for everything but the chunk's bytes (the store header and the grant).
WRITE_HEADER_ROOM_BYTES = 64 * 1024


def not_direct_because(policy: common_pb2.RedundancyPolicy, header: object_pb2.PutObjectHeader, *,
                       compress: bool, encrypt: bool, chunk_size_bytes: int,
                       message_bytes_max: int = 1 << 62) -> str:
    """Why the put `header` describes must stream through its coordinator; "" when it may go direct."""
    if chunk_size_bytes + WRITE_HEADER_ROOM_BYTES > message_bytes_max:
        return (f"chunks of {chunk_size_bytes} bytes do not fit this node's messages of {message_bytes_max} bytes "
                "(grpc_message_bytes_max)")
    if policy.WhichOneof("policy") != "replication":
        return "erasure-coded puts stream through their coordinator, which encodes them"
    if header.upload_id:
        return "a multipart upload's part streams through its coordinator"
    if compress:
        return "a compressed put streams through its coordinator, which compresses its chunks"
    if encrypt:
        return "a put encrypted at rest streams through its coordinator, which seals its chunks"
    if not header.HasField("size_bytes") or header.size_bytes <= chunk_size_bytes:
        return f"an object of at most one chunk ({chunk_size_bytes} bytes), or of unknown size, streams"
    return ""


class DirectPuts:
    """A coordinator's side of direct puts: places chunks with grants, checks written chunks."""

    def __init__(self, view: ClusterView, keys: WriteKeys, client_address_of: Callable[[str], str],
                 wall_ms: Callable[[], int]) -> None:
        self._view = view
        self.keys = keys
        # node id -> its client port's address ("" when unknown).
        self._client_address_of = client_address_of
        self._wall_ms = wall_ms

    def plan(self, token: object_pb2.DirectPutToken, chunk: object_pb2.KnownChunk, chunk_size_bytes: int
             ) -> object_pb2.ChunkWrite:
        """Where `chunk`'s copies go, each with its header and grant. No copies when a holder has no
        client address: the client then sends the chunk's bytes in its PutObject stream."""
        chunk_id = bytes(chunk.chunk_id)
        if len(chunk_id) != CHUNK_ID_BYTES or not 0 < chunk.size_bytes <= chunk_size_bytes:
            raise errors.InvalidArgument(f"a planned chunk is a {CHUNK_ID_BYTES}-byte blake3 and 1..{chunk_size_bytes} "
                                         "bytes; nothing was stored")
        count = token.policy.replication.replicas
        targets = choose_targets(self._view.ring(), chunk_position(chunk_id), count, self._view.is_live,
                                 what=f"placing chunk {chunk_id.hex()[:16]} of {token.ref.bucket}/{token.ref.key}",
                                 full=self._view.full_nodes())
        placement = common_pb2.PlacementRecord(format_version=FORMAT_VERSION, chunk_id=chunk_id, policy=token.policy,
                                               size_bytes=chunk.size_bytes, updated_at_unix_ms=self._wall_ms())
        placement.holders.extend(share_holders(targets.assignments, [chunk_id] * count))
        answer = object_pb2.ChunkWrite(chunk_id=chunk_id)
        for a in targets.assignments:
            address = self._client_address_of(a.node_id)
            if not address:
                return object_pb2.ChunkWrite(chunk_id=chunk_id)
            header = peer_pb2.StoreChunkHeader(
                share=share_ref(ShareKey(chunk_id)), size_bytes=chunk.size_bytes, blake3=chunk_id, placement=placement,
                handoff_for_node_id=a.handoff_for, referenced_by=token.ref).SerializeToString(deterministic=True)
            answer.copies.add(node_id=a.node_id, address=address, header=header, expires_unix_ms=token.expires_unix_ms,
                              grant=self.keys.grant(a.node_id, token.expires_unix_ms, header))
        return answer

    def check_written(self, written: object_pb2.WrittenChunk, token: object_pb2.DirectPutToken,
                      chunk_size_bytes: int) -> None:
        """Refuse (nothing stored) unless every holder of the chunk's placement gave a receipt for a
        copy of this chunk, referenced by this put's version."""
        chunk_id = bytes(written.chunk_id)
        name = f"written chunk {chunk_id.hex()[:16]}"
        if len(chunk_id) != CHUNK_ID_BYTES or not 0 < written.size_bytes <= chunk_size_bytes:
            raise errors.InvalidArgument(f"a {name} is a {CHUNK_ID_BYTES}-byte blake3 and 1..{chunk_size_bytes} bytes; "
                                         "nothing was stored")
        placement: common_pb2.PlacementRecord | None = None
        nodes: set[str] = set()
        for copy in written.copies:
            if not self.keys.receipt_ok(copy.node_id, bytes(copy.header), bytes(copy.receipt)):
                raise errors.Unauthenticated(f"a receipt of {name} from {copy.node_id} does not check out: send the "
                                             "chunk's bytes instead; nothing was stored")
            header = peer_pb2.StoreChunkHeader.FromString(copy.header)
            if (bytes(header.share.chunk_id) != chunk_id or header.size_bytes != written.size_bytes
                    or header.referenced_by != token.ref):
                raise errors.InvalidArgument(f"{name} names a copy written for another chunk or put; nothing was stored")
            if placement is None:
                placement = header.placement
            elif header.placement != placement:
                raise errors.InvalidArgument(f"{name} names copies of two placements; nothing was stored")
            nodes.add(copy.node_id)
        holders = {h.node_id for h in placement.holders} if placement is not None else set()
        if not holders or nodes != holders or len(holders) != token.policy.replication.replicas:
            raise errors.InvalidArgument(
                f"{name} has receipts from {sorted(nodes)}, not from every holder its placement names "
                f"({sorted(holders)}): send its bytes instead; nothing was stored")


class CopyWriter:
    """A holder's side of direct puts: WriteChunk checks the grant, stores the copy and answers a receipt."""

    def __init__(self, keys: WriteKeys, node_id: str,
                 store_copy: Callable[[peer_pb2.StoreChunkHeader, memoryview], bool]) -> None:
        self._keys = keys
        self._node_id = node_id
        # Stores a copy durably as a peer's StoreShare would (node/api/peer_service.py store_copy).
        self._store_copy = store_copy

    def write(self, request: object_pb2.WriteChunkHeader, data: memoryview) -> object_pb2.WriteChunkResponse:
        header = bytes(request.header)
        self._keys.check_grant(self._node_id, request.expires_unix_ms, header, bytes(request.grant))
        # Made by a coordinator of this cluster (the grant says so): it parses.
        self._store_copy(peer_pb2.StoreChunkHeader.FromString(header), data)
        return object_pb2.WriteChunkResponse(receipt=self._keys.receipt(self._node_id, header))
