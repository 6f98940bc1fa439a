"""Encryption at rest, the pure parts: sealing a chunk under a data key (convergent within the key,
not across keys, tamper-evident, never the plaintext in the sealed bytes), the keyed identity, and
the master keyring file (format, mode, wrapping, adding and removing keys) with nodectl's
`admin master-key` commands."""

from __future__ import annotations

import os
import secrets

import blake3
import pytest
from click.testing import CliRunner

from node import errors
from node.objects import at_rest, compression
from nodectl.cli import main
from ringstore.auth import masterkeys
from ringstore.v1 import common_pb2


def _key(name: str = "t/0011223344556677") -> at_rest.DataKey:
    return at_rest.DataKey.of(name, secrets.token_bytes(32))


def test_sealing_is_convergent_under_one_key_and_differs_under_another() -> None:
    key, other = _key(), _key()
    payload = b"the same chunk " * 1000
    sealed = key.seal(payload)
    assert sealed == key.seal(payload), "one key, one payload: one stored form (deduplicates)"
    assert sealed != other.seal(payload), "another tenant's key: another stored form"
    assert key.seal(payload + b"!") != sealed
    assert len(sealed) == len(payload) + at_rest.OVERHEAD_BYTES
    assert b"the same chunk" not in sealed
    assert key.open(sealed, "here") == payload
    assert key.seal(b"") and key.open(key.seal(b""), "here") == b""
    # The caller's blake3 of the payload gives the same bytes as computing it.
    assert key.seal(payload, blake3.blake3(payload).digest()) == sealed


def test_a_sealed_chunk_opens_only_untouched_and_under_its_key() -> None:
    key, other = _key(), _key()
    sealed = bytearray(key.seal(os.urandom(5000)))
    with pytest.raises(errors.DataLoss, match="does not open under data key t/0011223344556677"):
        other.open(bytes(sealed), "chunk 0")
    for index in (0, 5, at_rest.HEADER_BYTES + 10, len(sealed) - 1):
        tampered = bytearray(sealed)
        tampered[index] ^= 0x01
        with pytest.raises(errors.DataLoss):
            key.open(bytes(tampered), "chunk 0")
    with pytest.raises(errors.DataLoss, match="not a sealed chunk"):
        key.open(b"short", "chunk 0")


def test_the_chunk_ref_keeps_a_keyed_identity_checked_on_read() -> None:
    key = _key()
    plain = os.urandom(3000)
    ref = common_pb2.ChunkRef(chunk_id=b"\0" * 32, size_bytes=len(plain) + at_rest.OVERHEAD_BYTES)
    at_rest.mark(ref, key, plain)
    assert at_rest.is_encrypted(ref) and ref.data_key_id == key.key_id
    assert bytes(ref.plain_blake3) != blake3.blake3(plain).digest(), "the plain blake3 is never recorded"
    assert bytes(ref.plain_blake3) == key.keyed(blake3.blake3(plain).digest())
    assert compression.plain_size(ref) == 3000 and compression.identity(ref) == bytes(ref.plain_blake3)
    at_rest.check_identity(ref, key, plain, "here")
    with pytest.raises(errors.DataLoss, match="opens to bytes other than"):
        at_rest.check_identity(ref, key, plain[:-1] + b"x", "here")
    copy = common_pb2.ChunkRef()
    compression.mark_as(copy, ref)
    assert (copy.encryption, copy.data_key_id, copy.plain_blake3) == (ref.encryption, ref.data_key_id, ref.plain_blake3)


def test_a_data_key_record_round_trips_and_refuses_what_it_did_not_write() -> None:
    record = at_rest.DataKeyRecord(key_id="t/00aa", tenant="t", created_at_unix_ms=5, master_key_id="mk-1",
                                   wrapped=b"\x01" * 60)
    assert at_rest.DataKeyRecord.from_json(record.to_json()) == record
    assert b"\x01" * 60 not in record.to_json()
    with pytest.raises(errors.DataLoss, match="not one this software wrote"):
        at_rest.DataKeyRecord.from_json(b'{"format": 9}')


def test_master_keys_wrap_data_keys_bound_to_their_id() -> None:
    master, other = masterkeys.MasterKey(secrets.token_bytes(32)), masterkeys.MasterKey(secrets.token_bytes(32))
    data_key = secrets.token_bytes(32)
    wrapped = master.wrap(data_key, "t/01")
    assert data_key not in wrapped and master.unwrap(wrapped, "t/01") == data_key
    assert master.wrap(data_key, "t/01") != wrapped, "a random nonce per wrapping"
    with pytest.raises(masterkeys.KeyringError, match="does not open under master key"):
        master.unwrap(wrapped, "t/02")  # moved into another record
    with pytest.raises(masterkeys.KeyringError, match="does not open under master key"):
        other.unwrap(wrapped, "t/01")
    assert master.key_id.startswith("mk-") and len(master.key_id) == 19 and master.key_id != other.key_id


def test_the_keyring_file_is_private_checked_and_keeps_the_primary_last(tmp_path) -> None:
    path = str(tmp_path / "master.keys")
    first = masterkeys.add_new(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    second = masterkeys.add_new(path)
    keyring = masterkeys.load(path)
    assert keyring.ids == [first.key_id, second.key_id] and keyring.primary.key_id == second.key_id
    with pytest.raises(masterkeys.KeyringError, match="is the primary key"):
        masterkeys.remove(path, second.key_id)
    with pytest.raises(masterkeys.KeyringError, match="holds no key mk-nope"):
        masterkeys.remove(path, "mk-nope")
    assert masterkeys.remove(path, first.key_id).ids == [second.key_id]
    os.chmod(path, 0o644)
    with pytest.raises(masterkeys.KeyringError, match="readable by others .* chmod 600"):
        masterkeys.load(path)
    os.chmod(path, 0o600)
    lines = open(path).read().splitlines()
    for text, problem in ((lines[1] + "\n", "is not a master keyring"),
                          ("\n".join([lines[0], "key mk-0000000000000000 " + lines[1].split()[2]]), "damaged"),
                          (lines[0] + "\nkey short AAAA\n", "line 2 is not"),
                          (lines[0] + "\n", "holds no key")):
        with open(path, "w") as f:
            f.write(text)
        with pytest.raises(masterkeys.KeyringError, match=problem):
            masterkeys.load(path)
    with pytest.raises(masterkeys.KeyringError, match="cannot read the master key file"):
        masterkeys.load(str(tmp_path / "missing.keys"))


def test_nodectl_admin_master_key_add_ls_remove(tmp_path) -> None:
    runner = CliRunner()
    path = str(tmp_path / "ring" / "master.keys")
    os.mkdir(tmp_path / "ring")
    first = runner.invoke(main, ["admin", "master-key", "add", path])
    assert first.exit_code == 0 and "as its primary (1 key:" in first.output, first.output
    second = runner.invoke(main, ["admin", "master-key", "add", path])
    assert second.exit_code == 0 and "then run `nodectl admin rewrap-keys`" in second.output
    ids = masterkeys.load(path).ids
    listed = runner.invoke(main, ["admin", "master-key", "ls", path])
    assert listed.output.splitlines() == [ids[0], f"{ids[1]}  (primary)"]
    refused = runner.invoke(main, ["admin", "master-key", "remove", path, ids[1]])
    assert refused.exit_code == 2 and "is the primary key" in refused.output and "Traceback" not in refused.output
    removed = runner.invoke(main, ["admin", "master-key", "remove", path, ids[0]])
    assert removed.exit_code == 0 and masterkeys.load(path).ids == [ids[1]]
    missing = runner.invoke(main, ["admin", "master-key", "ls", str(tmp_path / "none.keys")])
    assert missing.exit_code == 2 and "cannot read the master key file" in missing.output


class _Records:
    """SystemRecords in memory, with a slow listing so that racing first puts overlap."""

    def __init__(self) -> None:
        import threading
        self.records: dict[str, bytes] = {}
        self.lock = threading.Lock()

    def exists(self) -> bool:
        return True

    def ensure_bucket(self) -> None:
        pass

    def put(self, name: str, data: bytes) -> None:
        with self.lock:
            self.records[name] = data

    def record(self, name: str) -> bytes | None:
        return self.records.get(name)

    def list(self, prefix: str, limit: int) -> list:
        import time
        time.sleep(0.02)
        with self.lock:
            return [common_pb2.Manifest(key=k, inline=True, inline_data=v)
                    for k, v in sorted(self.records.items()) if k.startswith(prefix)]


def test_a_burst_of_a_new_tenants_first_puts_makes_one_data_key_that_every_node_can_open():
    from concurrent import futures

    keyring = masterkeys.Keyring((masterkeys.MasterKey(secrets.token_bytes(32)),))
    records = _Records()
    keys = at_rest.DataKeys(records, keyring=lambda: keyring, wall_ms=lambda: 1_000)
    with futures.ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda _: keys.current("acme"), range(16)))
    assert len(records.records) == 1 and len({k.key_id for k in found}) == 1
    assert found[0].key_id.startswith("acme/")
    assert b"acme" not in found[0].secret and found[0].secret not in next(iter(records.records.values()))
    # Another node (nothing cached) opens the same key from its record; without a keyring it refuses.
    elsewhere = at_rest.DataKeys(records, keyring=lambda: keyring, wall_ms=lambda: 2_000)
    assert elsewhere.get(found[0].key_id).secret == found[0].secret
    assert elsewhere.current("acme").key_id == found[0].key_id
    with pytest.raises(errors.FailedPrecondition, match="has no master key"):
        at_rest.DataKeys(records, keyring=lambda: None, wall_ms=lambda: 0).get(found[0].key_id)
