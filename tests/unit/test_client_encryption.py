"""Unit tests of client-side encryption (nodectl/client/encryption.py): block framing at every edge
of a block, convergence under one key and not across keys, damage and wrong keys caught, key files
written owner-only, never overwritten, and refused when damaged."""

from __future__ import annotations

import io
import os

import pytest

from nodectl.client.encryption import (BLOCK_CIPHER_BYTES, BLOCK_PLAIN_BYTES, EncryptingFile, EncryptionKey,
                                       check_key, cipher_size, decrypted)
from nodectl.errors import DataLoss, FailedPrecondition, InvalidArgument


@pytest.mark.parametrize("size", [0, 1, BLOCK_PLAIN_BYTES - 1, BLOCK_PLAIN_BYTES, BLOCK_PLAIN_BYTES + 1,
                                  2 * BLOCK_PLAIN_BYTES + 3])
def test_round_trips_at_every_block_edge_and_blocks_are_chunk_sized(size):
    key = EncryptionKey.new()
    data = os.urandom(size)
    cipher = EncryptingFile(io.BytesIO(data), size, key).read()
    assert len(cipher) == cipher_size(size)
    assert all(len(cipher[i:i + BLOCK_CIPHER_BYTES]) == BLOCK_CIPHER_BYTES
               for i in range(0, len(cipher) - BLOCK_CIPHER_BYTES, BLOCK_CIPHER_BYTES))
    frames = [cipher[i:i + 65536] for i in range(0, len(cipher), 65536)] or [b""]
    assert b"".join(decrypted(iter(frames), key, "b/k")) == data


def test_same_plaintext_same_ciphertext_under_one_key_only():
    key, other = EncryptionKey.new(), EncryptionKey.new()
    block = os.urandom(1000)
    assert key.encrypt_block(block) == key.encrypt_block(block)  # convergent: the cluster deduplicates
    assert key.encrypt_block(block) != other.encrypt_block(block)  # and nobody else can test for it
    assert block not in key.encrypt_block(block)


def test_damage_and_wrong_keys_are_caught():
    key, other = EncryptionKey.new(), EncryptionKey.new()
    cipher = bytearray(key.encrypt_block(b"secret"))
    cipher[-1] ^= 1
    with pytest.raises(DataLoss, match="authentication tag"):
        key.decrypt_block(bytes(cipher), "b/k")
    with pytest.raises(DataLoss, match="authentication tag"):
        other.decrypt_block(key.encrypt_block(b"secret"), "b/k")
    meta = {"ringstore-encryption": "aes-256-gcm-convergent-v1", "ringstore-key-id": key.key_id}
    assert check_key({}, None, "b/k") is None and check_key(meta, key, "b/k") is key
    with pytest.raises(FailedPrecondition, match="read it with that key"):
        check_key(meta, None, "b/k")
    with pytest.raises(FailedPrecondition, match="not the key given"):
        check_key(meta, other, "b/k")


def test_key_files_are_private_never_overwritten_and_checked(tmp_path):
    key = EncryptionKey.new()
    path = tmp_path / "k"
    key.save(str(path))
    assert (path.stat().st_mode & 0o777) == 0o600 and EncryptionKey.load(str(path)) == key
    with pytest.raises(InvalidArgument, match="never overwritten"):
        EncryptionKey.new().save(str(path))
    text = path.read_text().replace(key.key_id, "0" * 16)
    (tmp_path / "bad").write_text(text)
    with pytest.raises(InvalidArgument, match="damaged"):
        EncryptionKey.load(str(tmp_path / "bad"))
    (tmp_path / "junk").write_text("hello")
    with pytest.raises(InvalidArgument, match="not a key file"):
        EncryptionKey.load(str(tmp_path / "junk"))


def test_an_encrypting_view_seeks_to_block_starts_for_parts():
    key = EncryptionKey.new()
    data = os.urandom(2 * BLOCK_PLAIN_BYTES + 5)
    view = EncryptingFile(io.BytesIO(data), len(data), key)
    whole = view.read()
    view.seek(BLOCK_CIPHER_BYTES)
    assert view.read(BLOCK_CIPHER_BYTES) == whole[BLOCK_CIPHER_BYTES:2 * BLOCK_CIPHER_BYTES]
    assert view.seek(0, io.SEEK_END) == len(whole)
    with pytest.raises(io.UnsupportedOperation):
        view.seek(10)
