"""The node's disk: content-addressed share files plus LMDB tables, behind one facade, `NodeStore`.

Nothing here knows gRPC, the ring or the clock of the cluster; `node/api` and `node/repair` call
`NodeStore` and map its errors at their own edges.

Dependency order inside the package (each module imports only those before it):

    errors    StoreError and its subclasses
    keys      ShareKey, LMDB key layout, version_key (the version order)
    chunks    ChunkFiles: paths, temp files, fsync/rename, quarantine (no LMDB)
    metadata  MetadataDb: the LMDB environment, named dbs, record format_version checks (no files)
    store     NodeStore + ShareWriter: the write path that ties files and index together

Rejected alternative: letting callers use `chunks` and `metadata` directly. The durability rule
(file durable before its index entry, index entry and placement record in one transaction) would
then be every caller's job; the facade makes it impossible to skip a step.
"""

from node.store.errors import (ChecksumMismatch, CorruptShare, DataDirLocked, InvalidArgument,
                               ShareNotFound, StoreError, StoreFull, UnknownFormatVersion)
from node.store.keys import SHARE_INDEX_MAX, ShareKey, version_key
from node.store.metadata import LAYOUT_FORMAT_VERSION, RECORD_FORMAT_VERSION
from node.store.store import (LIST_MANIFESTS_LIMIT_MAX, SHARE_SIZE_BYTES_MAX, NodeStore,
                              ShareWriter)

__all__ = [
    "ChecksumMismatch",
    "CorruptShare",
    "DataDirLocked",
    "InvalidArgument",
    "LAYOUT_FORMAT_VERSION",
    "LIST_MANIFESTS_LIMIT_MAX",
    "NodeStore",
    "RECORD_FORMAT_VERSION",
    "SHARE_INDEX_MAX",
    "SHARE_SIZE_BYTES_MAX",
    "ShareKey",
    "ShareNotFound",
    "ShareWriter",
    "StoreError",
    "StoreFull",
    "UnknownFormatVersion",
    "version_key",
]
