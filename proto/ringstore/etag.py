"""An object's ETag, from what its manifest keeps: what the S3 port answers and `nodectl stat` shows.

- Put through the S3 port: the MD5 of its bytes, as S3.
- Stitched from a multipart upload: the MD5 of its parts' MD5s, `-`, the number of parts, as S3.
- Put natively (no MD5 is computed there): the first 128 bits of its blake3 and `-1`, the shape S3
  gives an ETag that is not an MD5 of the content, so tools that compare ETags with a local MD5
  (rclone) know not to. A native put that named chunks its bucket already stored has no blake3:
  the same from the blake3 over its chunk ids (Manifest.chunks_blake3).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import blake3


def etag(md5: bytes, part_count: int, whole_blake3: bytes, chunks_blake3: bytes = b"") -> str:
    """The unquoted ETag of an object with these manifest fields ("" when it has no digest)."""
    if md5:
        return md5.hex() + (f"-{part_count}" if part_count else "")
    digest = whole_blake3 or chunks_blake3
    return digest[:16].hex() + "-1" if digest else ""


def chunks_digest(chunk_ids: Iterable[bytes]) -> bytes:
    """Manifest.chunks_blake3: blake3 over the chunk ids in order."""
    return blake3.blake3(b"".join(chunk_ids)).digest()


def parts_md5(part_md5s: Iterable[bytes]) -> bytes:
    """The MD5 a multipart object keeps: of its parts' MD5s, in part order."""
    return hashlib.md5(b"".join(part_md5s), usedforsecurity=False).digest()
