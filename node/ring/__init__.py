"""The consistent-hash ring: where every chunk, manifest and bucket record lives.

Pure: no sockets, clock or disk; every function here is a function of its arguments, so every node
computes the same placement from the same member set without a coordinator.

Dependency order inside the package (each module imports only those before it):
    positions  - keys (chunk ids, tenant/bucket names) -> 64-bit ring positions
    ring       - RingMember, Ring: tokens from members, preference lists with zone spread,
                 ownership, invariants check()
"""

from node.ring.positions import (
    POSITION_MAX,
    RING_SIZE,
    bucket_directory_position,
    chunk_position,
    metadata_position,
    position_from_digest,
    quota_desk_position,
)
from node.ring.ring import Ring, RingMember

__all__ = [
    "POSITION_MAX",
    "RING_SIZE",
    "Ring",
    "RingMember",
    "bucket_directory_position",
    "chunk_position",
    "metadata_position",
    "position_from_digest",
    "quota_desk_position",
]
