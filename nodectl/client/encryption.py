"""Client-side encryption: an object's bytes are encrypted in the client before they leave it, under a
key the cluster never sees, and still deduplicate within the tenant that holds the key.

The plaintext is cut into blocks of BLOCK_PLAIN_BYTES; each becomes one block of exactly
BLOCK_CIPHER_BYTES (the cluster's 4 MiB chunk: so identical plaintext blocks make identical chunks,
which the cluster stores once):

    1 byte   block format (1)
    32 bytes block id: HMAC-SHA256 under the key of the blake3 of the plaintext block
    n bytes  AES-256-GCM of the plaintext block (with its 16-byte tag), under a block key and nonce
             derived from the key and the block id (HKDF-SHA256)

Convergent encryption as in Tahoe-LAFS, scoped to one key: the same plaintext under the same key
gives the same ciphertext (that is what lets the cluster deduplicate), but the block id and the
block key are keyed, so whoever lacks the key cannot compute them and cannot test whether a given
file is stored. Deriving a fresh key per block means a nonce is never reused under one key. The
object's user metadata records the scheme, the key's id (a keyed hash of it, not the key) and the
plaintext size, so a read with no key or another key is refused in one line before any byte is
decrypted, and a damaged block fails its tag. A range is read as the blocks that hold it.

Keys: `nodectl key init --out FILE` writes 32 random bytes (the `secrets` module), base64, with
their id, to a file only its owner may read. Primitives are the `cryptography` package's (AESGCM,
HKDF) and the standard library's `hmac`; nothing here is home-made but the framing.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import io
import os
import secrets
from collections.abc import Iterator
from typing import BinaryIO

import blake3

from nodectl.errors import DataLoss, FailedPrecondition, InvalidArgument

KEY_BYTES = 32
KEY_FILE_HEADER = "ringstore client encryption key v1"
KEY_FILE_MODE = 0o600
BLOCK_FORMAT = 1
BLOCK_ID_BYTES = 32
TAG_BYTES = 16
BLOCK_CIPHER_BYTES = 4 * 1024 * 1024  # the cluster's default chunk size
BLOCK_OVERHEAD_BYTES = 1 + BLOCK_ID_BYTES + TAG_BYTES
BLOCK_PLAIN_BYTES = BLOCK_CIPHER_BYTES - BLOCK_OVERHEAD_BYTES
# User metadata of an encrypted object.
META_SCHEME, META_KEY_ID, META_PLAIN_BYTES = "ringstore-encryption", "ringstore-key-id", "ringstore-plain-bytes"
SCHEME = "aes-256-gcm-convergent-v1"
_BLOCK_ID_CONTEXT = b"ringstore.v1.block-id"
_KEY_ID_CONTEXT = b"ringstore.v1.key-id"


@dataclasses.dataclass(frozen=True)
class EncryptionKey:
    """A client-side encryption key and its id (16 hex digits of a keyed hash: names it, reveals nothing)."""

    secret: bytes = dataclasses.field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise InvalidArgument(f"an encryption key is {KEY_BYTES} bytes, not {len(self.secret)}")

    @property
    def key_id(self) -> str:
        return hmac.new(self.secret, _KEY_ID_CONTEXT, hashlib.sha256).hexdigest()[:16]

    @classmethod
    def new(cls) -> EncryptionKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    def save(self, path: str) -> None:
        """Write the key to a new file only its owner may read; refuses to overwrite one."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
        except FileExistsError:
            raise InvalidArgument(f"{path} exists: a key file is never overwritten (the objects encrypted under "
                                  "it would be lost); choose another path") from None
        with os.fdopen(fd, "w") as out:
            out.write(f"{KEY_FILE_HEADER}\nid {self.key_id}\nkey {base64.b64encode(self.secret).decode()}\n")

    @classmethod
    def load(cls, path: str) -> EncryptionKey:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise InvalidArgument(f"cannot read the key file {path}: {err}") from None
        fields = dict(line.split(" ", 1) for line in lines[1:] if " " in line)
        try:
            if not lines or lines[0] != KEY_FILE_HEADER:
                raise ValueError("not a key file")
            key = cls(base64.b64decode(fields["key"], validate=True))
        except (ValueError, KeyError, InvalidArgument):
            raise InvalidArgument(f"{path} is not a key file `nodectl key init` wrote") from None
        if fields.get("id") != key.key_id:
            raise InvalidArgument(f"{path} is damaged: its key does not match its id {fields.get('id')}")
        return key

    def _block_key(self, block_id: bytes) -> tuple[bytes, bytes]:
        """(AES key, nonce) of one block. `cryptography` is imported here, on first use: it costs a
        client process about 9 MiB, and most clients never encrypt (tests/unit/test_memory.py)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF
        derived = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES + 12, salt=None,
                       info=b"ringstore.v1.block-key" + block_id).derive(self.secret)
        return derived[:KEY_BYTES], derived[KEY_BYTES:]

    def encrypt_block(self, plain: bytes) -> bytes:
        block_id = hmac.new(self.secret, _BLOCK_ID_CONTEXT + blake3.blake3(plain).digest(), hashlib.sha256).digest()
        key, nonce = self._block_key(block_id)
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        return bytes([BLOCK_FORMAT]) + block_id + AESGCM(key).encrypt(nonce, plain, None)

    def decrypt_block(self, block: bytes, where: str) -> bytes:
        if len(block) < BLOCK_OVERHEAD_BYTES or block[0] != BLOCK_FORMAT:
            raise DataLoss(f"{where}: an encrypted block is damaged (its header is not one this client wrote)")
        block_id = block[1:1 + BLOCK_ID_BYTES]
        key, nonce = self._block_key(block_id)
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        try:
            return AESGCM(key).decrypt(nonce, block[1 + BLOCK_ID_BYTES:], None)
        except InvalidTag:
            raise DataLoss(f"{where}: an encrypted block failed its authentication tag (damaged, or not "
                           "written under this key)") from None


def cipher_size(plain_bytes: int) -> int:
    """The size of `plain_bytes` of plaintext once encrypted (an empty object is one empty block)."""
    blocks = max(1, -(-plain_bytes // BLOCK_PLAIN_BYTES))
    return plain_bytes + blocks * BLOCK_OVERHEAD_BYTES


class EncryptingFile(io.RawIOBase):
    """A read-only, seekable-to-start view of `source` (a binary file of `size` bytes) as ciphertext:
    what a put sends, block by block, never the whole object in memory."""

    def __init__(self, source: BinaryIO, size: int, key: EncryptionKey) -> None:
        self._source, self._key, self._start = source, key, source.tell()
        self._size = cipher_size(size)
        self._plain_size = size
        self._pending = b""
        self._position = 0
        self._blocks_left = max(1, -(-size // BLOCK_PLAIN_BYTES))

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """To its end (for its size), or to the start of any block (a put's start, a part's)."""
        if whence == io.SEEK_END and offset == 0:
            return self._size
        if whence != io.SEEK_SET or offset % BLOCK_CIPHER_BYTES or offset > self._size:
            raise io.UnsupportedOperation("an encrypting view seeks to its end or to the start of a block only")
        block = offset // BLOCK_CIPHER_BYTES
        self._source.seek(self._start + block * BLOCK_PLAIN_BYTES)
        self._pending, self._position = b"", offset
        self._blocks_left = max(1, -(-self._plain_size // BLOCK_PLAIN_BYTES)) - block
        return offset

    def read(self, size: int = -1) -> bytes:
        while (size < 0 or len(self._pending) < size) and self._blocks_left:
            plain = self._source.read(BLOCK_PLAIN_BYTES)
            self._blocks_left -= 1
            self._pending += self._key.encrypt_block(plain)
        taken = self._pending if size < 0 else self._pending[:size]
        self._pending = self._pending[len(taken):]
        self._position += len(taken)
        return taken


def decrypted(blocks: Iterator[memoryview | bytes], key: EncryptionKey, where: str) -> Iterator[bytes]:
    """The plaintext of a ciphertext stream (in frames of any size), block by block."""
    pending = bytearray()
    for frame in blocks:
        pending += frame
        while len(pending) >= BLOCK_CIPHER_BYTES:
            yield key.decrypt_block(bytes(pending[:BLOCK_CIPHER_BYTES]), where)
            del pending[:BLOCK_CIPHER_BYTES]
    if pending:
        yield key.decrypt_block(bytes(pending), where)


def check_key(metadata: dict[str, str], key: EncryptionKey | None, where: str) -> EncryptionKey | None:
    """The key to decrypt an object with (None: the object is not encrypted); FailedPrecondition
    when it is encrypted and `key` is missing or another key."""
    if metadata.get(META_SCHEME) is None:
        return None
    wanted = metadata.get(META_KEY_ID, "?")
    if metadata[META_SCHEME] != SCHEME:
        raise FailedPrecondition(f"{where} is encrypted with {metadata[META_SCHEME]!r}, which this client does "
                                 "not know: read it with a newer nodectl")
    if key is None:
        raise FailedPrecondition(f"{where} is encrypted (key {wanted}): read it with that key (--key FILE)")
    if key.key_id != wanted:
        raise FailedPrecondition(f"{where} is encrypted with key {wanted}, not the key given ({key.key_id}): "
                                 "read it with its key")
    return key
