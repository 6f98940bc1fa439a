"""The digests of versions encrypted at rest are sealed in LMDB: a real NodeStore with a sealer keeps
no MD5, blake3 or chunk digest of such a version in any file of its data dir (manifests, versions,
the change log), reads them back whole, and keeps other versions' digests as they were; another
cluster key cannot open them; a conditional put's register is sealed too."""

from __future__ import annotations

import hashlib
import os
import pathlib
import time

import blake3
import pytest

from node.store import NodeStore
from node.store.digests import DigestSealer
from ringstore.v1 import common_pb2

MIB = 1024 * 1024
REPLICAS_3 = common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=3))


def _manifest(key: str, data: bytes, *, encrypted: bool) -> common_pb2.Manifest:
    ms = int(time.time() * 1000)  # a version older than the change log's retention is not logged
    chunk = common_pb2.ChunkRef(chunk_id=os.urandom(32), size_bytes=len(data) + 49, plain_size_bytes=len(data),
                                plain_blake3=os.urandom(32))
    if encrypted:
        chunk.encryption, chunk.data_key_id = common_pb2.ENCRYPTION_AES256_GCM, "t/0011"
    return common_pb2.Manifest(
        format_version=1, tenant="t", bucket="b", key=key, policy=REPLICAS_3, size_bytes=len(data),
        version=common_pb2.VersionStamp(physical_ms=ms, node_id="n"), chunks=[chunk],
        md5=hashlib.md5(data).digest(), blake3=blake3.blake3(data).digest(),
        chunks_blake3=blake3.blake3(b"chunks" + data).digest())


def _files_holding(directory: pathlib.Path, needle: bytes) -> list[str]:
    return [str(p) for p in directory.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.fixture()
def sealer() -> DigestSealer:
    return DigestSealer(b"k" * 32)


def test_an_encrypted_versions_digests_never_reach_the_disk_and_read_back_whole(tmp_path, sealer):
    store = NodeStore(str(tmp_path), map_size_bytes=64 * MIB, digest_sealer=sealer)
    secret, plain = _manifest("secret", b"the secret document", encrypted=True), _manifest("plain", b"open",
                                                                                              encrypted=False)
    try:
        store.put_manifest(secret)
        store.put_manifest(plain)
        got = store.get_manifest("t", "b", "secret")
        assert (got.md5, got.blake3, got.chunks_blake3, got.sealed_digests) == (secret.md5, secret.blake3,
                                                                                secret.chunks_blake3, b"")
        assert got == secret
        _, changes, _, _ = store.read_changes("t", "b")
        record = next(r for _, r in changes if r.key == "secret")
        assert (record.md5, record.blake3, record.chunks_blake3, record.encrypted) == (
            secret.md5, secret.blake3, secret.chunks_blake3, True)
        assert secret.md5 and not secret.sealed_digests, "the caller's manifest is left as it was"
    finally:
        store.close()
    for digest in (secret.md5, secret.blake3, secret.chunks_blake3):
        assert _files_holding(tmp_path, digest) == [], "a digest of the encrypted version is on disk"
    assert _files_holding(tmp_path, plain.blake3), "an unencrypted version keeps its digests as before"

    # Another cluster key (or none) does not open them: the digests read as empty, the version reads.
    other = NodeStore(str(tmp_path), map_size_bytes=64 * MIB, digest_sealer=DigestSealer(b"x" * 32))
    try:
        got = other.get_manifest("t", "b", "secret")
        assert (got.md5, got.blake3, got.size_bytes) == (b"", b"", secret.size_bytes) and got.sealed_digests
    finally:
        other.close()


def test_sealing_is_deterministic_bound_to_its_record_and_covers_registers(sealer):
    manifest = _manifest("k", b"bytes", encrypted=True)
    first, again = sealer.sealed(manifest), sealer.sealed(manifest)
    assert first.SerializeToString(deterministic=True) == again.SerializeToString(deterministic=True)
    assert not first.md5 and first.sealed_digests
    moved = common_pb2.Manifest()
    moved.CopyFrom(first)
    moved.key = "another"
    sealer.open(moved)
    assert moved.md5 == b"" and moved.sealed_digests, "a sealed blob moved to another record does not open"
    sealer.open(first)
    assert first == manifest
    assert sealer.sealed(_manifest("p", b"x", encrypted=False)).md5, "unencrypted versions stay as they are"
    state = common_pb2.KeyRegisterState(format_version=1, accepted=common_pb2.KeyRegister(manifest=manifest))
    sealed_state = sealer.sealed(state)
    assert not sealed_state.accepted.manifest.md5 and state.accepted.manifest.md5
    sealer.open(sealed_state)
    assert sealed_state == state
