"""An object's ETag, from what its manifest keeps: what the S3 port answers and `nodectl stat` shows.

- Put through the S3 port: the MD5 of its bytes, as S3.
- Stitched from a multipart upload: the MD5 of its parts' MD5s, `-`, the number of parts, as S3.
- Put natively (no MD5 is computed there): the first 128 bits of its blake3 and `-1`, the shape S3
  gives an ETag that is not an MD5 of the content, so tools that compare ETags with a local MD5
  (rclone) know not to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def etag(md5: bytes, part_count: int, blake3: bytes) -> str:
    """The unquoted ETag of an object with these manifest fields ("" when it has neither digest)."""
    if md5:
        return md5.hex() + (f"-{part_count}" if part_count else "")
    return blake3[:16].hex() + "-1" if blake3 else ""


def parts_md5(part_md5s: Iterable[bytes]) -> bytes:
    """The MD5 a multipart object keeps: of its parts' MD5s, in part order."""
    return hashlib.md5(b"".join(part_md5s), usedforsecurity=False).digest()
