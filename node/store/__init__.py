"""The node's disk: content-addressed share files plus LMDB tables, behind one facade, `NodeStore`.

Nothing here knows gRPC, the ring or the clock of the cluster; `node/api` and `node/repair` call
`NodeStore` and map its errors at their own edges.

Dependency order inside the package (each module imports only those before it):

    errors    StoreError and its subclasses
    keys      ShareKey (replica or K+M share), placement_key, ref_key, LMDB key layout, version_key,
              ballot_key and bucket_order_key (which of two bucket record versions is newer)
    chunks    ChunkFiles: paths, temp files, fsync/rename, quarantine (no LMDB)
    disk      DiskGuard: disk-full watermarks (ratio, free bytes, bytes_max), DiskUsage, refusing
              a chunk copy that would cross one (no files, no LMDB: a statvfs and a byte count)
    identity  StoreIdentity: the store id and creation time a new LMDB environment gets (no LMDB)
    members_file  the members file (DIR/members.json): the other members a node last knew, read and
              written durably; what it is for is node/rejoin.py's (no LMDB)
    metadata  MetadataDb: the LMDB environment, named dbs, record format_version checks, the
              checksum envelope of every value and the walk that verifies them (no files)
    store     NodeStore + ShareWriter: the write path that ties files, index, references and
              placement records together; release_share (ReleaseOutcome); what repair needs:
              drop_copy, set_home, batched scans, metadata partitions; the bucket register's
              acceptor (prepare_bucket, accept_bucket: promise and accepted record, durable);
              set_disk_limits installs the DiskGuard every new chunk copy reserves with

Rejected alternative: letting callers use `chunks` and `metadata` directly. The durability rule
(file durable before its index entry; index entry, reference row and placement record in one
transaction; a copy released only when its last reference goes) would then be every caller's job;
the facade makes it impossible to skip a step.
"""

from node.store.disk import DiskGuard, DiskUsage, format_bytes
from node.store.errors import (ChecksumMismatch, CorruptRecord, CorruptShare, DataDirLocked,
                               InvalidArgument, MetadataUnavailable, ShareNotFound, StoreError,
                               StoreFull, UnknownFormatVersion)
from node.store.keys import (SHARE_INDEX_MAX, SHARES_PER_STRIPE_MAX, ShareKey, ballot_key,
                             bucket_order_key, placement_key, policy_geometry, ref_key, version_key)
from node.store.metadata import BUCKET_RECORD_FORMAT_VERSION, LAYOUT_FORMAT_VERSION, RECORD_FORMAT_VERSION
from node.store.identity import StoreIdentity
from node.store.members_file import (MEMBERS_FILE_NAME, MembersFileError, MembersSnapshot, RememberedMember,
                                     read_members_file, write_members_file)
from node.store.store import (LIST_MANIFESTS_LIMIT_MAX, METADATA_PARTITIONS_MAX,
                              REFERENCES_LIMIT_MAX, SHARE_SIZE_BYTES_MAX, MetadataOpenReport,
                              NodeStore, ReleaseOutcome, ShareWriter)

__all__ = [
    "BUCKET_RECORD_FORMAT_VERSION",
    "ChecksumMismatch",
    "CorruptRecord",
    "CorruptShare",
    "DataDirLocked",
    "DiskGuard",
    "DiskUsage",
    "InvalidArgument",
    "LAYOUT_FORMAT_VERSION",
    "LIST_MANIFESTS_LIMIT_MAX",
    "MEMBERS_FILE_NAME",
    "MembersFileError",
    "MembersSnapshot",
    "MetadataOpenReport",
    "MetadataUnavailable",
    "METADATA_PARTITIONS_MAX",
    "NodeStore",
    "RECORD_FORMAT_VERSION",
    "REFERENCES_LIMIT_MAX",
    "ReleaseOutcome",
    "RememberedMember",
    "SHARES_PER_STRIPE_MAX",
    "SHARE_INDEX_MAX",
    "SHARE_SIZE_BYTES_MAX",
    "ShareKey",
    "ShareNotFound",
    "ShareWriter",
    "StoreIdentity",
    "StoreError",
    "StoreFull",
    "UnknownFormatVersion",
    "ballot_key",
    "bucket_order_key",
    "format_bytes",
    "placement_key",
    "policy_geometry",
    "read_members_file",
    "ref_key",
    "version_key",
    "write_members_file",
]
