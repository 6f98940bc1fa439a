"""Encryption at rest: chunks encrypted by the node with AES-256-GCM before they reach any disk,
under per-tenant data keys wrapped by the cluster's master key.

**Keys.** A tenant (a bucket's owner; the operator's buckets are one tenant) gets a data key, 32
random bytes, the first time one of its buckets stores an encrypted chunk. The key is kept as a
record of the system tenant's `datakeys` bucket (`TENANT/ID`, JSON, inline in its manifest, so
replicated, quorum-read, repaired and refilled like every manifest), wrapped under the primary
master key of the node's keyring (ringstore.auth.masterkeys; `--master-key-file`, the same file on
every node, kept like the cluster secret). Neither the data key nor any master key is ever written
in the clear. A put uses the key only once its record is durable on a write quorum. Two nodes
making a tenant's first key at once may both make one: both records stay, every chunk names the key
that sealed it (ChunkRef.data_key_id), and new puts converge on the oldest, so nothing is lost
(only some deduplication between the two). Rotating the master key re-wraps the records
(`nodectl admin rewrap-keys`); no chunk is rewritten.

**Chunks.** A chunk's payload (its bytes, or their zstd form when compression keeps it) is sealed as

    1 byte   format (SEALED_FORMAT)
    32 bytes sealed id: HMAC-SHA256 under the data key's identity subkey of the payload's blake3
    n bytes  AES-256-GCM of the payload with its 16-byte tag, the first 33 bytes as associated data,
             under a key and nonce HKDF derives from the data key and the sealed id

and that is the stored form: a chunk of its own (chunk_id = blake3 of the ciphertext), so replicas,
erasure shares, placement, repair, scrub, fsck, garbage collection and rebalancing handle it as any
chunk, without keys. Encryption is convergent within a tenant: the same payload under the same data
key gives the same stored bytes, so a tenant's identical chunks are stored once; under another
tenant's key they differ, and without the key nobody can compute the sealed id of a guessed chunk
(Tahoe-LAFS's convergent encryption, with the added secret). A key and nonce pair is used for one
payload only (it is derived from the payload's hash), so a nonce never repeats under a key with other
bytes. The ChunkRef keeps the chunk's keyed identity (HMAC of the uncompressed chunk's blake3), never
its plain blake3, and its plain length; reads check the tag, then the keyed identity.

The object's whole digests (blake3, MD5 for its ETag) are sealed in the metadata homes' LMDB
(node/store/digests.py). Left in the clear on disk: names (buckets, keys), sizes, user metadata.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Callable

import blake3

from node import errors
from node.store.digests import encrypted_version
from ringstore.auth.masterkeys import Keyring, KeyringError
from ringstore.v1 import common_pb2

DATA_KEY_BUCKET = "datakeys"  # of the system tenant (node.auth.store.SYSTEM_TENANT)
RECORD_FORMAT = 1
KEY_BYTES = 32
ID_HEX = 16
SEALED_FORMAT = 1
SEALED_ID_BYTES = 32
TAG_BYTES = 16
HEADER_BYTES = 1 + SEALED_ID_BYTES
OVERHEAD_BYTES = HEADER_BYTES + TAG_BYTES
OPERATOR_TENANT = "operator"  # whose data key seals the chunks of buckets the operator made
_IDENTITY_INFO = b"ringstore at-rest identity v1"
_CHUNK_INFO = b"ringstore at-rest chunk v1"
# Longest list of data keys one call reads (one per tenant, and a few more after races).
DATA_KEYS_MAX = 100_000

NO_KEYRING = ("this node has no master key, so it cannot encrypt at rest: start every node with the same "
              "--master-key-file (make it with `nodectl admin master-key add FILE`)")


def tenant_of(owner: str) -> str:
    """The tenant whose data key seals a bucket's chunks: its owner, or the operator's."""
    return owner or OPERATOR_TENANT


@dataclasses.dataclass(frozen=True)
class DataKey:
    """A tenant's data key, unwrapped, and its two subkeys."""

    key_id: str  # "TENANT/16 hex digits"
    secret: bytes = dataclasses.field(repr=False)
    identity_key: bytes = dataclasses.field(repr=False, default=b"")

    @classmethod
    def of(cls, key_id: str, secret: bytes) -> DataKey:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        identity = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_IDENTITY_INFO).derive(secret)
        return cls(key_id=key_id, secret=secret, identity_key=identity)

    def keyed(self, digest: bytes) -> bytes:
        """The keyed identity of a blake3 digest: what the cluster records instead of the digest."""
        return hmac.new(self.identity_key, digest, hashlib.sha256).digest()

    def _aead(self, sealed_id: bytes):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        derived = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES + 12, salt=None,
                       info=_CHUNK_INFO + sealed_id).derive(self.secret)
        return AESGCM(derived[:KEY_BYTES]), derived[KEY_BYTES:]

    def seal(self, payload: bytes | bytearray | memoryview, payload_blake3: bytes | None = None) -> bytes:
        """The stored form of `payload` (whose blake3 the caller may pass when it has it)."""
        digest = payload_blake3 if payload_blake3 is not None else blake3.blake3(payload).digest()
        header = bytes([SEALED_FORMAT]) + self.keyed(digest)
        aead, nonce = self._aead(header[1:])
        return header + aead.encrypt(nonce, bytes(payload), header)

    def open(self, stored: bytes | bytearray | memoryview, where: str) -> bytes:
        """The payload of a stored form whose bytes already matched their chunk id: DataLoss when
        it does not open (the manifest names the wrong key, or the bytes were sealed otherwise)."""
        from cryptography.exceptions import InvalidTag

        stored = bytes(stored)
        if len(stored) < OVERHEAD_BYTES or stored[0] != SEALED_FORMAT:
            raise errors.DataLoss(f"{where}: its stored bytes are not a sealed chunk this software wrote")
        header = stored[:HEADER_BYTES]
        aead, nonce = self._aead(header[1:])
        try:
            return aead.decrypt(nonce, stored[HEADER_BYTES:], header)
        except InvalidTag:
            raise errors.DataLoss(f"{where}: does not open under data key {self.key_id} (the manifest and the "
                                  "copies disagree)") from None


def is_encrypted(ref: common_pb2.ChunkRef) -> bool:
    return ref.encryption == common_pb2.ENCRYPTION_AES256_GCM


def object_encryption(manifest: common_pb2.Manifest) -> int:
    """What a version says of itself to clients (ObjectInfo.encryption, S3's header): AES256_GCM when
    its chunks are encrypted at rest, else unset."""
    return common_pb2.ENCRYPTION_AES256_GCM if encrypted_version(manifest) else common_pb2.ENCRYPTION_UNSPECIFIED


def mark(ref: common_pb2.ChunkRef, key: DataKey, plain: bytes | bytearray | memoryview,
         plain_blake3: bytes | None = None) -> None:
    """Record in `ref` (the stored form's) that it holds `plain` sealed under `key`."""
    ref.encryption = common_pb2.ENCRYPTION_AES256_GCM
    ref.data_key_id = key.key_id
    ref.plain_blake3 = key.keyed(plain_blake3 if plain_blake3 is not None else blake3.blake3(plain).digest())
    ref.plain_size_bytes = len(plain)


def check_identity(ref: common_pb2.ChunkRef, key: DataKey, plain: bytes | bytearray | memoryview, where: str) -> None:
    if len(plain) != ref.plain_size_bytes or not hmac.compare_digest(key.keyed(blake3.blake3(plain).digest()),
                                                                     bytes(ref.plain_blake3)):
        raise errors.DataLoss(f"{where}: opens to bytes other than the manifest records; the manifest is damaged")


@dataclasses.dataclass(frozen=True)
class DataKeyRecord:
    key_id: str
    tenant: str
    created_at_unix_ms: int
    master_key_id: str
    wrapped: bytes = dataclasses.field(repr=False)

    def to_json(self) -> bytes:
        return json.dumps({"format": RECORD_FORMAT, "key_id": self.key_id, "tenant": self.tenant,
                           "created_at_unix_ms": self.created_at_unix_ms, "master_key_id": self.master_key_id,
                           "wrapped": base64.b64encode(self.wrapped).decode()}, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> DataKeyRecord:
        try:
            raw = json.loads(data)
            if not isinstance(raw, dict) or raw.get("format") != RECORD_FORMAT:
                raise ValueError
            return cls(key_id=str(raw["key_id"]), tenant=str(raw["tenant"]),
                       created_at_unix_ms=int(raw["created_at_unix_ms"]), master_key_id=str(raw["master_key_id"]),
                       wrapped=base64.b64decode(raw["wrapped"], validate=True))
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise errors.DataLoss("a data key record is not one this software wrote") from None


class DataKeys:
    """The tenants' data keys, over a Coordinator of the system tenant. Unwrapped keys are kept in
    memory for the node's life (a record's key never changes; only its wrapping does). Thread-safe."""

    def __init__(self, records, *, keyring: Callable[[], Keyring | None], wall_ms: Callable[[], int]) -> None:
        # node.auth.store.SystemRecords of DATA_KEY_BUCKET.
        self._records = records
        self._keyring = keyring
        self._wall_ms = wall_ms
        self._lock = threading.Lock()
        self._finding = threading.Lock()  # held while a tenant's current key is looked up or made
        self._keys: dict[str, DataKey] = {}
        self._current: dict[str, DataKey] = {}
        self._bucket_ready = False

    def _ring(self) -> Keyring:
        keyring = self._keyring()
        if keyring is None:
            raise errors.FailedPrecondition(NO_KEYRING)
        return keyring

    def check_ready(self) -> None:
        """FailedPrecondition unless this node can encrypt (it has a keyring)."""
        self._ring()

    def current(self, tenant: str) -> DataKey:
        """The key that seals `tenant`'s new chunks, made (and durable) first if it has none."""
        with self._lock:
            found = self._current.get(tenant)
        if found is not None:
            return found
        # One lookup (and, for a new tenant, one new key) at a time on this node: a burst of a new
        # tenant's first puts makes one key here, not one per put.
        with self._finding:
            with self._lock:
                found = self._current.get(tenant)
            if found is not None:
                return found
            records = self._list(f"{tenant}/")
            if not records:
                made = self._create(tenant)
                records = self._list(f"{tenant}/") or [made]
            oldest = min(records, key=lambda r: (r.created_at_unix_ms, r.key_id))
            key = self._unwrapped(oldest)
            with self._lock:
                self._current[tenant] = key
            return key

    def get(self, key_id: str) -> DataKey:
        """The data key `key_id` (a ChunkRef's data_key_id)."""
        with self._lock:
            found = self._keys.get(key_id)
        if found is not None:
            return found
        data = self._records.record(key_id)
        if data is None:
            raise errors.DataLoss(f"data key {key_id} has no record: the chunks sealed under it cannot be opened")
        return self._unwrapped(DataKeyRecord.from_json(data))

    def _unwrapped(self, record: DataKeyRecord) -> DataKey:
        keyring = self._ring()
        master = keyring.get(record.master_key_id)
        if master is None:
            raise errors.FailedPrecondition(
                f"data key {record.key_id} is wrapped under master key {record.master_key_id}, which this node's "
                f"keyring ({', '.join(keyring.ids)}) lacks: give every node the keyring that holds it")
        try:
            key = DataKey.of(record.key_id, master.unwrap(record.wrapped, record.key_id))
        except KeyringError as err:
            raise errors.DataLoss(str(err)) from None
        with self._lock:
            self._keys[record.key_id] = key
        return key

    def _create(self, tenant: str) -> DataKeyRecord:
        keyring = self._ring()
        if not self._bucket_ready:
            self._records.ensure_bucket()
            self._bucket_ready = True
        key_id = f"{tenant}/{secrets.token_hex(ID_HEX // 2)}"
        secret = secrets.token_bytes(KEY_BYTES)
        record = DataKeyRecord(key_id=key_id, tenant=tenant, created_at_unix_ms=self._wall_ms(),
                               master_key_id=keyring.primary.key_id, wrapped=keyring.primary.wrap(secret, key_id))
        self._records.put(record.key_id, record.to_json())
        return record

    def _list(self, prefix: str) -> list[DataKeyRecord]:
        """Every data key record under `prefix` (quorum listing)."""
        if not self._records.exists():
            return []
        return [DataKeyRecord.from_json(bytes(m.inline_data)) for m in self._records.list(prefix, DATA_KEYS_MAX)]

    def rewrap(self, *, dry_run: bool = False) -> tuple[str, int, int, int]:
        """Wrap every data key under the primary master key: (primary id, data keys, re-wrapped,
        already current). Each record is rewritten with the same key inside, so a rewrap racing
        another (or a put) changes no key."""
        keyring = self._ring()
        primary = keyring.primary
        records = self._list("")
        stale = [r for r in records if r.master_key_id != primary.key_id]
        if not dry_run:
            for record in stale:
                key = self._unwrapped(record)
                rewrapped = dataclasses.replace(record, master_key_id=primary.key_id,
                                                wrapped=primary.wrap(key.secret, record.key_id))
                self._records.put(record.key_id, rewrapped.to_json())
        return primary.key_id, len(records), len(stale), len(records) - len(stale)
