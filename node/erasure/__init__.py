"""Pure data transforms: chunking and content addressing (zfec coding arrives with issue 3).

Depends on nothing else in `node`; no sockets, clock or disk.
"""

from node.erasure.chunking import CHUNK_ID_BYTES, chunk_id_of, rechunk, slices

__all__ = ["CHUNK_ID_BYTES", "chunk_id_of", "rechunk", "slices"]
