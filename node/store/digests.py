"""The whole-object digests of versions encrypted at rest, sealed in a metadata home's LMDB.

A version whose chunks are encrypted at rest (node/objects/at_rest.py) still has an MD5 (its S3
ETag), a blake3 and, when its put named known chunks, a blake3 over its chunk ids. Clients need them
(ETags, conditional requests, sync, end-to-end checks), so they travel in the clear between nodes
(over TLS) and to clients; but kept in the clear on disk they would let whoever holds a stolen disk
or data dir test whether a known file is stored. So the store seals them as it writes a record and
opens them as it reads one: a Manifest, a ChangeRecord of the change log, and the Manifest inside a
conditional put's KeyRegisterState. Everything above the store sees them as they are.

AES-SIV (RFC 5297, the `cryptography` package's) under a 64-byte subkey HKDF derives from the cluster
key (`--cluster-secret-file`, kept outside the data dir, the same on every node): deterministic, so
every home holds the same bytes for one version (metadata sync compares records by digest) and the
same version sealed twice is the same record; misuse-resistant, so no nonce is needed. The record's
identity (tenant, bucket, key, version stamp) is the associated data: a sealed blob moved to another
record does not open. A record that does not open (another cluster key) is left sealed and the
digests read as empty, with a log line: the version still reads, and its ETag is missing rather than
wrong.

Rejected: sealing under the tenant's data key (the store would need a quorum read of the data key's
record from inside a write or read of another record); a random nonce (homes would hold different
bytes for one version, and sync would never settle).
"""

from __future__ import annotations

import logging

from ringstore.auth.keys import HKDF_SALT
from ringstore.v1 import common_pb2

log = logging.getLogger("ringstore.store")

DIGESTS_INFO = b"ringstore manifest digests v1"
SIV_KEY_BYTES = 64  # AES-256-SIV
_FIELDS = ("md5", "blake3", "chunks_blake3")


def encrypted_version(manifest: common_pb2.Manifest) -> bool:
    """Whether a version's chunks are encrypted at rest (node/objects/at_rest.py)."""
    return any(c.encryption == common_pb2.ENCRYPTION_AES256_GCM for c in manifest.chunks)


def _pack(record) -> bytes:
    out = bytearray()
    for name in _FIELDS:
        value = bytes(getattr(record, name))
        out += bytes([len(value)]) + value
    return bytes(out)


def _unpack(data: bytes) -> list[bytes]:
    values, at = [], 0
    for _ in _FIELDS:
        length = data[at]
        values.append(data[at + 1:at + 1 + length])
        at += 1 + length
    if at != len(data):
        raise ValueError("trailing bytes")
    return values


class DigestSealer:
    """Seals and opens the digests of records as the store writes and reads them. Thread-safe."""

    def __init__(self, cluster_key: bytes) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESSIV
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        self._siv = AESSIV(HKDF(algorithm=hashes.SHA256(), length=SIV_KEY_BYTES, salt=HKDF_SALT,
                                info=DIGESTS_INFO).derive(bytes(cluster_key)))

    def __repr__(self) -> str:
        return "DigestSealer(<key hidden>)"

    # -- the records -----------------------------------------------------------------------------

    def sealed(self, record):
        """The record as it goes to disk: `record` itself when nothing in it is sealed, else a copy."""
        if isinstance(record, common_pb2.Manifest):
            return self._sealed_manifest(record)
        if isinstance(record, common_pb2.ChangeRecord):
            if not record.encrypted or not any(getattr(record, name) for name in _FIELDS):
                return record
            copy = common_pb2.ChangeRecord()
            copy.CopyFrom(record)
            self._seal(copy, [record.key.encode("utf-8"), record.version.SerializeToString(deterministic=True)])
            return copy
        if isinstance(record, common_pb2.KeyRegisterState):
            inner = record.accepted.manifest
            if not record.HasField("accepted") or self._sealed_manifest(inner) is inner:
                return record
            copy = common_pb2.KeyRegisterState()
            copy.CopyFrom(record)
            copy.accepted.manifest.CopyFrom(self._sealed_manifest(inner))
            return copy
        return record

    def open(self, record) -> None:
        """Open, in place, what `sealed` sealed in a record just read from disk."""
        if isinstance(record, common_pb2.Manifest):
            self._open_manifest(record)
        elif isinstance(record, common_pb2.ChangeRecord):
            if record.sealed_digests:
                self._open(record, [record.key.encode("utf-8"), record.version.SerializeToString(deterministic=True)],
                           f"change of {record.key!r}")
        elif isinstance(record, common_pb2.KeyRegisterState):
            if record.HasField("accepted"):
                self._open_manifest(record.accepted.manifest)

    # -- inside ------------------------------------------------------------------------------

    @staticmethod
    def _manifest_ad(manifest: common_pb2.Manifest) -> list[bytes]:
        return [manifest.tenant.encode("utf-8"), manifest.bucket.encode("utf-8"), manifest.key.encode("utf-8"),
                manifest.version.SerializeToString(deterministic=True)]

    def _sealed_manifest(self, manifest: common_pb2.Manifest) -> common_pb2.Manifest:
        if not any(getattr(manifest, name) for name in _FIELDS) or not encrypted_version(manifest):
            return manifest
        copy = common_pb2.Manifest()
        copy.CopyFrom(manifest)
        self._seal(copy, self._manifest_ad(manifest))
        return copy

    def _open_manifest(self, manifest: common_pb2.Manifest) -> None:
        if manifest.sealed_digests:
            self._open(manifest, self._manifest_ad(manifest),
                       f"manifest of {manifest.tenant}/{manifest.bucket}/{manifest.key}")

    def _seal(self, record, ad: list[bytes]) -> None:
        record.sealed_digests = self._siv.encrypt(_pack(record), ad)
        for name in _FIELDS:
            record.ClearField(name)

    def _open(self, record, ad: list[bytes], what: str) -> None:
        from cryptography.exceptions import InvalidTag

        try:
            values = _unpack(self._siv.decrypt(bytes(record.sealed_digests), ad))
        except (InvalidTag, ValueError, IndexError):
            log.error("the sealed digests of the %s do not open under this node's cluster key (another "
                      "--cluster-secret-file, or the record was moved): its ETag and blake3 read as empty", what)
            return
        for name, value in zip(_FIELDS, values):
            setattr(record, name, value)
        record.ClearField("sealed_digests")
