"""Pure data transforms: chunking, content addressing and zfec K+M coding of one stripe.

Depends on nothing else in `node`; no sockets, clock or disk.
"""

from node.erasure.chunking import CHUNK_ID_BYTES, chunk_id_of, rechunk, slices
from node.erasure.codec import SHARES_PER_STRIPE_MAX, Geometry, GeometryError, decode, encode

__all__ = ["CHUNK_ID_BYTES", "SHARES_PER_STRIPE_MAX", "Geometry", "GeometryError", "chunk_id_of",
           "decode", "encode", "rechunk", "slices"]
