"""Errors of the disk layer: one hierarchy rooted at `StoreError`.

`node/api` maps these to gRPC status codes in one place (ShareNotFound -> NOT_FOUND, CorruptShare ->
DATA_LOSS for this copy, CorruptRecord -> DATA_LOSS for this replica's record,
MetadataUnavailable -> UNAVAILABLE, ChecksumMismatch and InvalidArgument -> INVALID_ARGUMENT, StoreFull ->
RESOURCE_EXHAUSTED). Messages carry the numbers an operator needs: chunk id in hex, share, paths,
expected and actual blake3, sizes.

Rejected alternative: raising bare OSError / lmdb.Error / ValueError. Callers would have to know
which library sits underneath and could not tell "this copy is rotten, fetch another" from "the
disk is full" without parsing messages.
"""

from __future__ import annotations

import blake3

KEY_HASH_BYTES = 8


def key_hash(key: bytes) -> str:
    """What logs and errors show of a record's key: a hash, since keys are user data."""
    return blake3.blake3(key).digest(length=KEY_HASH_BYTES).hex()


class StoreError(Exception):
    """Base of every error the store raises on purpose."""


class InvalidArgument(StoreError, ValueError):
    """Input from outside (a peer, a client) is malformed: wrong chunk id length, share index out of
    range, a record that names another chunk. Never raised for our own bugs (those are asserts)."""


class ShareNotFound(StoreError):
    """This node has no index entry, or no file, for the share."""

    def __init__(self, chunk_id: bytes, share_suffix: str, detail: str = "") -> None:
        self.chunk_id = chunk_id
        self.share_suffix = share_suffix
        message = f"share {share_suffix} of chunk {chunk_id.hex()} not found on this node"
        super().__init__(f"{message} ({detail})" if detail else message)


class CorruptShare(StoreError):
    """Stored bytes no longer match their blake3 (bit rot, truncation, tampering). The file has been
    moved to quarantine/ and the index entry dropped: repair must rebuild it from other holders."""

    def __init__(self, *, chunk_id: bytes, share_suffix: str, path: str, quarantine_path: str,
                 expected_blake3: bytes, actual_blake3: bytes, expected_size_bytes: int,
                 actual_size_bytes: int) -> None:
        self.chunk_id = chunk_id
        self.share_suffix = share_suffix
        self.path = path
        self.quarantine_path = quarantine_path
        self.expected_blake3 = expected_blake3
        self.actual_blake3 = actual_blake3
        self.expected_size_bytes = expected_size_bytes
        self.actual_size_bytes = actual_size_bytes
        super().__init__(
            f"share {share_suffix} of chunk {chunk_id.hex()} is corrupt: file {path} has "
            f"{actual_size_bytes} bytes with blake3 {actual_blake3.hex()}, expected "
            f"{expected_size_bytes} bytes with blake3 {expected_blake3.hex()}; "
            f"moved to {quarantine_path or '(already gone)'}"
        )


class ChecksumMismatch(StoreError):
    """The bytes a writer sent do not hash to the blake3 it promised; nothing was stored."""

    def __init__(self, *, chunk_id: bytes, share_suffix: str, expected_blake3: bytes,
                 actual_blake3: bytes, size_bytes: int) -> None:
        self.chunk_id = chunk_id
        self.share_suffix = share_suffix
        self.expected_blake3 = expected_blake3
        self.actual_blake3 = actual_blake3
        self.size_bytes = size_bytes
        super().__init__(
            f"share {share_suffix} of chunk {chunk_id.hex()}: received {size_bytes} bytes with "
            f"blake3 {actual_blake3.hex()}, writer promised {expected_blake3.hex()}; not stored"
        )


class UnknownFormatVersion(StoreError):
    """A record or the data dir itself has a format_version this code cannot read (written by a
    newer node, or a record built without setting format_version)."""


class StoreFull(StoreError):
    """The data filesystem or the LMDB map is full; the write was not acknowledged."""


class CorruptRecord(StoreError):
    """A metadata record failed its checksum (or LMDB handed back a value that cannot be an
    envelope): the bytes on disk are not what was written. Never returned as data. The store drops
    the record (quarantine) and answers with this error, so the caller treats this replica as
    failed and reads another; read repair or metadata sync puts the good copy back. `db` is the
    table name, `key_hash` the first 8 bytes of blake3(key) in hex (keys are never logged)."""

    def __init__(self, *, db: str, key: bytes, detail: str, raw: bytes | None = None,
                 quarantined: bool = False) -> None:
        self.db = db
        # True when raised for a record dropped earlier and not yet put back (nothing to drop)
        self.quarantined = quarantined
        self.key = bytes(key)
        self.raw = None if raw is None else bytes(raw)  # the bad stored bytes, for quarantine
        self.key_hash = key_hash(key)
        self.detail = detail
        super().__init__(f"corrupt record in db {db} (key blake3 {self.key_hash}): {detail}; "
                         "this replica cannot answer for it, read another")


class MetadataUnavailable(StoreError):
    """The node's metadata cannot answer for now: its LMDB env was found damaged and is being
    rebuilt from the peers, or a record asked for was quarantined and not yet put back. An absent
    answer would look authoritative, so the caller gets this (UNAVAILABLE) and asks another
    replica."""


class DataDirLocked(StoreError):
    """Another process (or another NodeStore in this process) has the data dir open."""
