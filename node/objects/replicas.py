"""Talking to one holder, local or remote, with the same calls.

The coordinator is itself often one of a chunk's holders; going through gRPC to ourselves would
cost a copy and a thread for nothing, so `Replicas` calls the local `NodeStore` directly when the
node id is our own and `PeerClient` otherwise. Errors from either side come back as `HolderError`,
which says which node failed and how, for the one-line messages the coordinator builds. A local
metadata record found corrupt (quarantined) is kind "corrupt", and metadata that is being refilled
from peers after damage is "unavailable": either way this replica did not answer, and the
coordinator's quorum reads go on with the others. A holder
whose disk is past its full watermark answers RESOURCE_EXHAUSTED (locally: StoreFull), kind "full":
the write goes to a spare like any failed write, and a put whose every failure was "full" reports
the disks, not the network.

A deep probe (`fsck --deep`) reads every copy on its holder and checks its blake3 under a bandwidth
throttle, so it is asked about DEEP_PROBE_SHARES_MAX copies per call (a call reads up to that many
shares, not thousands) with a deadline that grows with the bytes it may read at the rate.
"""

from __future__ import annotations

import concurrent.futures as cf
from typing import Callable, Iterable, Mapping, Protocol, Sequence

import grpc

from node.erasure.chunking import Buffer, chunk_id_of
from node.objects.ring_gate import RingGate, RingMismatch, put_manifests_checked
from node.peers.batch import CallBatcher, QueueTimeout
from node.peers.client import PeerClient, PeerError
from node.ring import Ring
from node.store import savings
from node.store.usage import breakdown_kind
from node.store import (SHARE_SIZE_BYTES_MAX, CorruptRecord, CorruptShare, MetadataUnavailable, NodeStore,
                        ShareKey, ShareNotFound, StoreError, StoreFull)
from ringstore.frames import Framed, framed
from ringstore.v1 import common_pb2, peer_pb2

# Most shares one HasChunk call asks about (the servicer's limit, HAS_CHUNK_SHARES_MAX).
PROBE_SHARES_MAX = 4096
# Copies one deep HasChunk call reads and hashes: its deadline allows this many of the largest
# shares at the throttle's rate, so a few per call keeps a stuck holder noticed in minutes.
DEEP_PROBE_SHARES_MAX = 4


class DeepThrottle(Protocol):
    """A bandwidth throttle deep probes read through (node.repair.throttle.TokenBucket)."""

    @property
    def rate_bytes_per_s(self) -> int: ...

    def acquire(self, n: int) -> None: ...


def deep_probe_timeout_s(timeout_s: float, shares: int, rate_bytes_per_s: int) -> float:
    """Deadline of a deep HasChunk call: timeout_s plus `shares` of the largest size at the rate."""
    return timeout_s + shares * SHARE_SIZE_BYTES_MAX / max(1, rate_bytes_per_s)


class ClusterView(Protocol):
    """What the object paths need to know about the cluster (implemented by the daemon)."""

    node_id: str

    def ring(self) -> Ring: ...
    def is_live(self, node_id: str) -> bool: ...
    def address_of(self, node_id: str) -> str: ...
    def state_name(self, node_id: str) -> str: ...
    def live_count(self) -> int: ...
    # ALIVE nodes that announced their disk full -> the free bytes they announced. Only chunk
    # copies avoid them (placement, repair); metadata still goes to every home.
    def full_nodes(self) -> Mapping[str, int]: ...
    # (store id, store created at Unix ms) the node announced; ("", 0) when unknown or from a node
    # older than store ids. A new store id under the same node id is an empty store.
    def store_of(self, node_id: str) -> tuple[str, int]: ...


def dedup_savings_reply(store: NodeStore, tenant: str, *, audit: bool) -> peer_pb2.GetDedupSavingsResponse:
    """A node's answer to GetDedupSavings: its savings records of `tenant` ("": every tenant's) and
    its own, and with `audit` the same counted again from its reference rows."""
    reply = peer_pb2.GetDedupSavingsResponse(
        entries=[savings.entry_of(key, record) for key, record in store.dedup_savings(tenant or None)])
    if audit:
        reply.audited.extend(savings.entry_of(key, record) for key, record in store.recount_savings(write=False)
                             if not tenant or key == savings.EVERYTHING_KEY or key.startswith(savings.tenant_key(tenant)))
    return reply


# Change-log entries one ReadChanges answers with, at most.
READ_CHANGES_LIMIT_MAX = 1000


def changes_reply(store: NodeStore, request: peer_pb2.ReadChangesRequest) -> peer_pb2.ReadChangesResponse:
    """A home's answer to ReadChanges (node/store/changes.py)."""
    store_id, entries, first, last = store.read_changes(
        request.tenant, request.bucket, after_seq=request.after_seq, since_ms=request.since_unix_ms,
        limit=max(1, min(request.limit or READ_CHANGES_LIMIT_MAX, READ_CHANGES_LIMIT_MAX)))
    return peer_pb2.ReadChangesResponse(store_id=store_id, first_seq=first, last_seq=last, entries=[
        peer_pb2.ChangeEntry(seq=seq, record=record) for seq, record in entries])


class HolderError(Exception):
    """One holder could not do what was asked. `kind` is not_found | corrupt | unavailable | full |
    ring | other (full: its disk is past a full watermark, or out of space; ring: a home refused a
    manifest write placed on a ring it does not use, node/objects/ring_gate.py)."""

    def __init__(self, node_id: str, kind: str, detail: str) -> None:
        self.node_id = node_id
        self.kind = kind
        self.detail = detail
        super().__init__(f"{node_id}: {detail}")


def _kind_of(code: grpc.StatusCode) -> str:
    if code == grpc.StatusCode.NOT_FOUND:
        return "not_found"
    if code == grpc.StatusCode.DATA_LOSS:
        return "corrupt"
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
        return "unavailable"
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return "full"
    if code == grpc.StatusCode.ABORTED:
        return "ring"
    return "other"


def share_ref(key: ShareKey) -> peer_pb2.ShareRef:
    if key.share_index is None:
        return peer_pb2.ShareRef(chunk_id=key.chunk_id)
    return peer_pb2.ShareRef(chunk_id=key.chunk_id, erasure_share=True, share_index=key.share_index,
                             data_shares=key.data_shares, parity_shares=key.parity_shares)


def share_key(ref: peer_pb2.ShareRef) -> ShareKey:
    """The store key a wire ShareRef names; the store raises InvalidArgument on a bad geometry."""
    if not ref.erasure_share:
        return ShareKey(bytes(ref.chunk_id))
    return ShareKey(bytes(ref.chunk_id), ref.share_index, ref.data_shares, ref.parity_shares)


class Replicas:
    """Per-holder operations, local or over the network."""

    def __init__(self, *, view: ClusterView, store: NodeStore, peers: PeerClient,
                 frame_size_bytes: int, timeout_s: float,
                 deep_throttle: Callable[[int], DeepThrottle] | None = None,
                 ring_gate: RingGate | None = None,
                 on_local_batch: Callable[[int], None] = lambda items: None) -> None:
        self._view = view
        # This node's manifest writes are checked and committed under it, as a peer's are.
        self._ring_gate = ring_gate if ring_gate is not None else RingGate(lambda: 0)
        # bandwidth_bytes_per_s (0: the scrub throttle) -> the throttle a deep probe reads through.
        self._deep_throttle = deep_throttle
        self._store = store
        self._peers = peers
        self._frame_size_bytes = frame_size_bytes
        self.timeout_s = timeout_s
        # This node's own manifest writes, committed together while one is committing (group commit,
        # as a peer's PutManifests does for the writes it is sent). Alone, each took LMDB's writer
        # lock for a commit and an fsync of its own: sixteen clients putting 4 KiB objects into a
        # bucket whose coordinator is one of its homes ran 127-159 puts per second at 8.4-10.8 ms of
        # CPU each; together, 182-204 at 6.5-7.0 (six nodes, TLS, two alternating pairs of clusters).
        self._local_manifest_puts: CallBatcher = CallBatcher(
            self._put_local_manifests, size_of=lambda item: item[0].ByteSize(), on_batch=on_local_batch)

    def _remote(self, node_id: str, fn, *args):
        address = self._view.address_of(node_id)
        try:
            return fn(address, *args)
        except PeerError as err:
            raise HolderError(node_id, _kind_of(err.code), f"{err.code.name}: {err.details}") from None

    def _local(self, fn, *args, **kwargs):
        """Call the local store the way a peer's servicer would answer: its errors become the
        HolderError a remote call would raise (a corrupt record or metadata being refilled is this
        replica failing, never a crash of the coordinator's request)."""
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            failed = self._local_error(err)
            if failed is None:
                raise
            raise failed from None

    def _local_error(self, err: Exception) -> HolderError | None:
        """The HolderError a local store error stands for; None for anything else (a bug)."""
        me = self._view.node_id
        if isinstance(err, CorruptRecord):
            return HolderError(me, "corrupt", f"DATA_LOSS: {err}")
        if isinstance(err, MetadataUnavailable):
            return HolderError(me, "unavailable", f"UNAVAILABLE: {err}")
        if isinstance(err, ShareNotFound):
            return HolderError(me, "not_found", str(err))
        if isinstance(err, CorruptShare):
            return HolderError(me, "corrupt", str(err))
        if isinstance(err, StoreFull):
            return HolderError(me, "full", f"RESOURCE_EXHAUSTED: {err}")
        if isinstance(err, StoreError):
            return HolderError(me, "other", f"local store failed: {err}")
        return None

    def framed(self, data: Buffer) -> list[Framed]:
        """`data` framed for the wire once, for `store_share` to send to several holders."""
        return framed(data, self._frame_size_bytes)

    def store_share(self, node_id: str, key: ShareKey, data: Buffer, placement: common_pb2.PlacementRecord,
                    blake3: bytes, handoff_for: str, referenced_by: common_pb2.ObjectRef | None,
                    references: Sequence[common_pb2.ObjectRef] = (), *,
                    wire: Sequence[Framed] | None = None) -> None:
        """Store one copy durably on `node_id`, recording `referenced_by` (a put) or `references`
        (repair copies every reference of its source). `wire`: `data` as `framed` made it, when
        the same bytes go to several holders."""
        if node_id == self._view.node_id:
            try:
                self._local(self._store.put_share, key, data, expected_blake3=blake3, placement=placement,
                            handoff_for_node_id=handoff_for, referenced_by=referenced_by, references=references)
            except OSError as err:   # the disk itself (the store's errors are mapped by _local)
                raise HolderError(node_id, "other", f"local write failed: {err}") from None
            return
        header = peer_pb2.StoreChunkHeader(share=share_ref(key), size_bytes=len(data), blake3=blake3,
                                           placement=placement, handoff_for_node_id=handoff_for,
                                           referenced_by=referenced_by, references=references)
        frames: Iterable = wire if wire is not None else self.framed(data)
        self._remote(node_id, self._peers.store_share, header, frames, self.timeout_s)

    def fetch_share(self, node_id: str, key: ShareKey) -> bytes:
        """The stored bytes, not yet verified against the chunk id (the caller verifies)."""
        if node_id == self._view.node_id:
            return self._local(self._store.read_share, key)
        data, _ = self._remote(node_id, self._peers.fetch_share, share_ref(key), self.timeout_s)
        return data

    def fetch_checked(self, node_id: str, key: ShareKey, expected_blake3: bytes) -> bytes | None:
        """The stored bytes when they hash to `expected_blake3`, None when they do not (corrupt or
        other bytes). This node's own store has verified its copy against the blake3 its index
        keeps, so a local read compares hashes instead of hashing the bytes a second time (0.2 ms
        of CPU per MB, three quarters of an S3 get's bytes on a 4-node replicas=3 cluster)."""
        if node_id == self._view.node_id:
            data, stored_blake3 = self._local(self._store.read_share_hashed, key)
            return data if stored_blake3 == expected_blake3 else None
        data = self.fetch_share(node_id, key)
        return data if chunk_id_of(data) == expected_blake3 else None

    def fetch_share_refs(self, node_id: str, key: ShareKey) -> tuple[bytes, list[common_pb2.ObjectRef]]:
        """The stored bytes (unverified) and the copy's references, for repair to carry along."""
        if node_id == self._view.node_id:
            return self._local(self._store.read_share_referenced, key)
        data, header = self._remote(node_id, self._peers.fetch_share, share_ref(key), self.timeout_s)
        return data, list(header.references)

    def share_references(self, node_id: str, key: ShareKey) -> list[common_pb2.ObjectRef]:
        """The references of the node's copy `key` (NotFound if it has none), without its bytes."""
        if node_id == self._view.node_id:
            if not self._store.has_share(key):
                raise HolderError(node_id, "not_found", f"share {key} not found on this node")
            return self._local(self._store.references, key)
        header = self._remote(node_id, self._peers.share_header, share_ref(key), self.timeout_s)
        return list(header.references)

    def has_shares(self, node_id: str, keys: Sequence[ShareKey], *,
                   deep_bandwidth_bytes_per_s: int | None = None) -> list[bool]:
        """Which of `keys` the node holds: indexed with the file there (one stat each), or, with
        `deep_bandwidth_bytes_per_s` (0: the holder's scrub throttle), read back intact."""
        deep = deep_bandwidth_bytes_per_s is not None
        if deep:
            assert self._deep_throttle is not None, "deep probes need a deep_throttle"
            throttle = self._deep_throttle(deep_bandwidth_bytes_per_s or 0)
        if node_id == self._view.node_id:
            if deep:
                return self._local(self._store.verify_shares, keys, throttle.acquire)
            return self._local(lambda: [self._store.has_share(key) for key in keys])
        refs = [share_ref(k) for k in keys]
        if not deep:
            return self._remote(node_id, self._peers.has_shares, refs, self.timeout_s)
        timeout_s = deep_probe_timeout_s(self.timeout_s, len(keys), throttle.rate_bytes_per_s)
        return self._remote(node_id, lambda address: self._peers.has_shares(
            address, refs, timeout_s, deep=True,
            bandwidth_bytes_per_s=deep_bandwidth_bytes_per_s or 0))

    def put_placement(self, node_id: str, record: common_pb2.PlacementRecord, if_updated_at_unix_ms: int = 0) -> bool:
        """Store a placement record on `node_id`; with `if_updated_at_unix_ms`, only over a stored
        record that still has that updated_at (returns whether it was stored)."""
        if node_id == self._view.node_id:
            return self._local(self._store.put_placement, record,
                               if_updated_at_unix_ms=if_updated_at_unix_ms)
        return self._remote(node_id, self._peers.put_placement, record, self.timeout_s, if_updated_at_unix_ms)

    def get_placement(self, node_id: str, chunk_id: bytes, data_shares: int = 0,
                      parity_shares: int = 0) -> common_pb2.PlacementRecord | None:
        """The placement record of one layout of a chunk: replication (0, 0) or ec K+M."""
        if node_id == self._view.node_id:
            return self._local(self._store.get_placement, chunk_id, data_shares, parity_shares)
        return self._remote(node_id, self._peers.get_placement, chunk_id, data_shares, parity_shares,
                            self.timeout_s)

    def release_share(self, node_id: str, key: ShareKey, ref: common_pb2.ObjectRef) -> tuple[bool, int]:
        """Drop one object version's reference on a copy: (deleted, references left)."""
        if node_id == self._view.node_id:
            outcome = self._local(self._store.release_share, key, ref)
            return outcome.deleted, outcome.references_left
        return self._remote(node_id, self._peers.release_share, share_ref(key), ref, self.timeout_s)

    def add_references(self, node_id: str, keys: list[ShareKey], ref: common_pb2.ObjectRef, *,
                       only_if_bucket_refers: bool = False) -> list[bool]:
        """Record `ref` on copies `node_id` holds; per key, whether it holds the copy (and, with
        `only_if_bucket_refers`, whether a version of ref's bucket already referenced it)."""
        if node_id == self._view.node_id:
            owner = (ref.tenant, ref.bucket) if only_if_bucket_refers else None
            return [self._local(self._store.add_references, key, [ref], only_if_referenced_by=owner) > 0
                    for key in keys]
        return self._remote(node_id, self._peers.add_references, [share_ref(key) for key in keys], ref,
                            self.timeout_s, only_if_bucket_refers)

    def referenced_by(self, node_id: str, keys: Sequence[ShareKey], owner: tuple[str, str]) -> list[bool]:
        """Which of `keys` the node holds with a reference from a version of `owner` (tenant, bucket)."""
        if node_id == self._view.node_id:
            return self._local(lambda: [self._store.referenced_by(key, owner) for key in keys])
        return self._remote(node_id, lambda address: self._peers.has_shares(
            address, [share_ref(k) for k in keys], self.timeout_s, referenced_by=owner))

    def put_manifest(self, node_id: str, manifest: common_pb2.Manifest, handoff_for: str,
                     ring_fingerprint: int = 0) -> None:
        """Store a manifest version on a replica. With `ring_fingerprint` (a coordinator's write, placed
        on that ring) a home refuses it unless that is its own ring and not another than one it
        promised readers: HolderError kind "ring"."""
        if node_id == self._view.node_id:
            try:
                self._local_manifest_puts.call(node_id, (manifest, handoff_for, ring_fingerprint), self.timeout_s)
            except QueueTimeout as err:
                raise HolderError(node_id, "unavailable", f"DEADLINE_EXCEEDED: {err}") from None
            return
        self._remote(node_id, self._peers.put_manifest, manifest, handoff_for, self.timeout_s, ring_fingerprint)

    def _put_local_manifests(self, _node_id: str, items: list[tuple[common_pb2.Manifest, str, int]]
                             ) -> list[HolderError | Exception | None]:
        """Commit (manifest, handoff_for, ring_fingerprint) items to the local store in one transaction,
        each checked against the ring gate as `put_manifest` describes (`put_manifests_checked`, as
        PutManifests on a peer). One outcome per item: None, or the error its own write would raise."""
        outcomes = put_manifests_checked(self._ring_gate, self._store.put_manifests, items)
        return [HolderError(self._view.node_id, "ring", f"ABORTED: {outcome}") if isinstance(outcome, RingMismatch)
                else (self._local_error(outcome) or outcome) if isinstance(outcome, Exception)
                else None for outcome in outcomes]

    def get_manifest(self, node_id: str, tenant: str, bucket: str, key: str,
                     version_id: bytes | None = None) -> common_pb2.Manifest | None:
        """The key's current version on `node_id`, or (`version_id` given) its manifest of that version."""
        if node_id == self._view.node_id:
            if version_id is not None:
                return self._local(self._store.get_manifest_version, tenant, bucket, key, version_id)
            return self._local(self._store.get_manifest, tenant, bucket, key)
        return self._remote(node_id, self._peers.get_manifest, tenant, bucket, key, self.timeout_s, version_id)

    def list_manifests(self, node_id: str, request: peer_pb2.ListManifestsRequest
                       ) -> tuple[list[common_pb2.Manifest], bool]:
        if node_id == self._view.node_id:
            return self._local(self._store.list_manifests, request.tenant, request.bucket,
                               prefix=request.prefix, start_after=request.start_after,
                               limit=request.limit, all_versions=request.all_versions,
                               include_start=request.include_start)
        return self._remote(node_id, self._peers.list_manifests, request, self.timeout_s)

    def put_bucket(self, node_id: str, record: common_pb2.BucketRecord) -> None:
        if node_id == self._view.node_id:
            self._local(self._store.put_bucket, record)
            return
        self._remote(node_id, self._peers.put_bucket, record, self.timeout_s)

    def list_buckets(self, node_id: str, tenant: str) -> list[common_pb2.BucketRecord]:
        if node_id == self._view.node_id:
            return self._local(self._store.list_buckets, tenant)
        return self._remote(node_id, self._peers.list_buckets, tenant, self.timeout_s)

    def prepare_bucket(self, node_id: str, tenant: str, name: str, ballot: common_pb2.Ballot
                       ) -> tuple[bool, common_pb2.Ballot, common_pb2.BucketRecord | None]:
        if node_id == self._view.node_id:
            return self._local(self._store.prepare_bucket, tenant, name, ballot)
        return self._remote(node_id, self._peers.prepare_bucket, tenant, name, ballot, self.timeout_s)

    def purge_tombstone(self, node_id: str, tombstone: common_pb2.Manifest) -> bool:
        """Delete a tombstone on a home, only if it is exactly the version stored there."""
        assert tombstone.tombstone, "only tombstones are purged"
        if node_id == self._view.node_id:
            return self._local(self._store.purge_manifest_if, tombstone)
        return self._remote(node_id, self._peers.purge_tombstone, tombstone, self.timeout_s)

    def get_usage(self, node_id: str, tenant: str, bucket: str) -> common_pb2.UsageRecord:
        """A metadata home's usage record of a bucket (node/store/usage.py)."""
        if node_id == self._view.node_id:
            return self._local(self._store.bucket_usage, tenant, bucket)
        return self._remote(node_id, self._peers.get_usage, tenant, bucket, self.timeout_s)

    def forget_bucket(self, node_id: str, tenant: str, name: str) -> None:
        """Ask another node to drop its cached record of a bucket (never called for this node)."""
        self._remote(node_id, self._peers.forget_bucket, tenant, name, self.timeout_s)

    def read_bucket(self, node_id: str, tenant: str, name: str
                    ) -> tuple[common_pb2.Ballot, common_pb2.BucketRecord | None]:
        if node_id == self._view.node_id:
            return self._local(self._store.read_bucket, tenant, name)
        return self._remote(node_id, self._peers.read_bucket, tenant, name, self.timeout_s)

    def get_usage_breakdown(self, node_id: str, tenant: str, bucket: str, kind: str
                            ) -> tuple[common_pb2.UsageRecord, list[tuple[str, common_pb2.UsageRecord]]]:
        """A metadata home's usage record of a bucket and its breakdown by prefix or type."""
        if node_id == self._view.node_id:
            record = self._local(self._store.bucket_usage, tenant, bucket)
            return record, self._local(self._store.usage_breakdown, tenant, bucket, breakdown_kind(kind))
        return self._remote(node_id, self._peers.get_usage_breakdown, tenant, bucket, kind, self.timeout_s)

    def read_changes(self, node_id: str, request: peer_pb2.ReadChangesRequest) -> peer_pb2.ReadChangesResponse:
        """A metadata home's change log of a bucket from a position (node/store/changes.py)."""
        if node_id == self._view.node_id:
            return self._local(changes_reply, self._store, request)
        return self._remote(node_id, self._peers.read_changes, request, self.timeout_s)

    def get_dedup_savings(self, node_id: str, tenant: str, *, audit: bool = False) -> peer_pb2.GetDedupSavingsResponse:
        """A node's deduplication savings records of `tenant` ("": every tenant's) and its own;
        with `audit`, also counted again from its reference rows (node/store/savings.py)."""
        if node_id == self._view.node_id:
            return self._local(dedup_savings_reply, self._store, tenant, audit=audit)
        return self._remote(node_id, self._peers.get_dedup_savings, tenant, audit, self.timeout_s)

    def find_manifests(self, node_id: str, request: peer_pb2.FindManifestsRequest
                       ) -> tuple[list[tuple[bytes, common_pb2.Manifest]], bytes | None]:
        if node_id == self._view.node_id:
            return self._local(self._store.find_manifests, request.tenant, request.bucket, request.query,
                               after=request.after, limit=request.limit or 1000)
        return self._remote(node_id, self._peers.find_manifests, request, self.timeout_s)

    def read_key_register(self, node_id: str, tenant: str, bucket: str, key: str
                          ) -> tuple[common_pb2.Ballot, common_pb2.KeyRegister | None]:
        if node_id == self._view.node_id:
            return self._local(self._store.read_key_register, tenant, bucket, key)
        return self._remote(node_id, self._peers.read_key_register, tenant, bucket, key, self.timeout_s)

    def prepare_key_register(self, node_id: str, tenant: str, bucket: str, key: str, ballot: common_pb2.Ballot
                             ) -> tuple[bool, common_pb2.Ballot, common_pb2.KeyRegister | None]:
        if node_id == self._view.node_id:
            return self._local(self._store.prepare_key_register, tenant, bucket, key, ballot)
        return self._remote(node_id, self._peers.prepare_key_register, tenant, bucket, key, ballot, self.timeout_s)

    def accept_key_register(self, node_id: str, value: common_pb2.KeyRegister) -> tuple[bool, common_pb2.Ballot]:
        if node_id == self._view.node_id:
            return self._local(self._store.accept_key_register, value)
        return self._remote(node_id, self._peers.accept_key_register, value, self.timeout_s)

    def accept_bucket(self, node_id: str, record: common_pb2.BucketRecord) -> tuple[bool, common_pb2.Ballot]:
        if node_id == self._view.node_id:
            return self._local(self._store.accept_bucket, record)
        return self._remote(node_id, self._peers.accept_bucket, record, self.timeout_s)


def probe_holders(replicas: Replicas, asks: Mapping[str, Iterable[ShareKey]], pool: cf.Executor, *,
                  deep_bandwidth_bytes_per_s: int | None = None
                  ) -> tuple[dict[str, set[ShareKey]], dict[str, HolderError]]:
    """Ask many nodes about many keys at once: one HasChunk call per node and PROBE_SHARES_MAX
    keys (DEEP_PROBE_SHARES_MAX when deep, see `Replicas.has_shares`), the nodes in parallel on
    `pool`. Returns node -> the keys it has, for each node that answered every call, and node ->
    the error of each that did not."""
    per_call = PROBE_SHARES_MAX if deep_bandwidth_bytes_per_s is None else DEEP_PROBE_SHARES_MAX

    def ask(node: str, keys: list[ShareKey]) -> set[ShareKey]:
        have: set[ShareKey] = set()
        for start in range(0, len(keys), per_call):
            part = keys[start:start + per_call]
            answer = replicas.has_shares(node, part,
                                         deep_bandwidth_bytes_per_s=deep_bandwidth_bytes_per_s)
            have.update(k for k, ok in zip(part, answer) if ok)
        return have

    futures = {pool.submit(ask, node, sorted(set(keys), key=ShareKey.db_key)): node
               for node, keys in asks.items()}
    answers: dict[str, set[ShareKey]] = {}
    failures: dict[str, HolderError] = {}
    for future in cf.as_completed(futures):
        try:
            answers[futures[future]] = future.result()
        except HolderError as err:
            failures[futures[future]] = err
    return answers, failures
