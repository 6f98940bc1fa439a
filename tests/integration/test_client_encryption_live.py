"""Client-side encryption through real noded processes: round trips of objects of zero to three
blocks, natively and from nodectl; no key and another key refused in one line; the plaintext is
found nowhere in any node's data dir; identical files under one key deduplicate, under two keys
they do not."""

from __future__ import annotations

import os
import pathlib

import pytest
from click.testing import CliRunner

from cluster_checks import wait_for
from nodectl.cli import main
from nodectl.client import Client, resumable
from nodectl.client.reuse import TransferStats
from nodectl.client.encryption import BLOCK_CIPHER_BYTES, BLOCK_PLAIN_BYTES, EncryptionKey, cipher_size
from nodectl.errors import FailedPrecondition

MARKER = b"RINGSTORE-PLAINTEXT-MARKER-"


def _plain(size: int) -> bytes:
    body = (MARKER * (size // len(MARKER) + 1))[:size]
    return body


def test_encrypted_round_trips_errors_grep_and_dedup(cluster_factory, tmp_path):
    cluster = cluster_factory(nodes=3)
    address = cluster.any_address()
    key, other = EncryptionKey.new(), EncryptionKey.new()
    sizes = [0, 100, BLOCK_PLAIN_BYTES, 2 * BLOCK_PLAIN_BYTES + 7]
    with Client(address=address, timeout_s=60.0, encryption_key=key) as client:
        client.create_bucket("secret")
        for size in sizes:
            info = client.put("secret", f"f{size}", _plain(size))
            assert info.size_bytes == cipher_size(size) and info.metadata["ringstore-key-id"] == key.key_id
            assert client.get_bytes("secret", f"f{size}") == _plain(size)
        whole = _plain(sizes[-1])
        for start, length in ((0, 10), (BLOCK_PLAIN_BYTES - 5, 20), (2 * BLOCK_PLAIN_BYTES, None), (7, None)):
            got = client.get_bytes("secret", f"f{sizes[-1]}", range_start_bytes=start, range_length_bytes=length)
            assert got == whole[start:None if length is None else start + length], (start, length)
        # A file sent in parts (as `nodectl put` sends one over 64 MiB): each part whole blocks.
        large = tmp_path / "large.bin"
        large.write_bytes(_plain(2 * BLOCK_PLAIN_BYTES + 7))
        info = resumable.put_resumable(client, "secret", "large.bin", large, state_dir=tmp_path / "state",
                                       resume=False, part_bytes=2 * BLOCK_CIPHER_BYTES, encryption_key=key)
        assert info.size_bytes == cipher_size(2 * BLOCK_PLAIN_BYTES + 7)
        assert client.get_bytes("secret", "large.bin") == large.read_bytes()
    with Client(address=address, timeout_s=60.0) as plain_client:
        with pytest.raises(FailedPrecondition, match=f"is encrypted \\(key {key.key_id}\\)"):
            plain_client.get_bytes("secret", "f100")
    with Client(address=address, timeout_s=60.0, encryption_key=other) as wrong:
        with pytest.raises(FailedPrecondition, match=f"encrypted with key {key.key_id}, not the key given"):
            wrong.get_bytes("secret", "f100")

    # nodectl: key init, put --encrypt, get --key (and without it: exit 6, one line).
    runner = CliRunner()
    key_file, source = tmp_path / "my.key", tmp_path / "notes.txt"
    result = runner.invoke(main, ["key", "init", "--out", str(key_file)], catch_exceptions=False)
    assert result.exit_code == 0 and (key_file.stat().st_mode & 0o077) == 0
    assert runner.invoke(main, ["key", "init", "--out", str(key_file)]).exit_code == 2  # never overwritten
    source.write_bytes(_plain(5000))
    cli = lambda *args: runner.invoke(main, ["--addr", address, *args], catch_exceptions=False)  # noqa: E731
    assert cli("put", str(source), "secret/notes.txt", "--encrypt", "--key", str(key_file)).exit_code == 0
    back = tmp_path / "back.txt"
    assert cli("get", "secret/notes.txt", str(back), "--key", str(key_file)).exit_code == 0
    assert back.read_bytes() == _plain(5000)
    refused = cli("get", "secret/notes.txt", str(tmp_path / "no.txt"))
    assert refused.exit_code == 6 and "is encrypted" in refused.output and "Traceback" not in refused.output
    assert cli("put", str(source), "secret/x", "--encrypt").exit_code == 2

    # A grown file sends only its new blocks: its blocks encrypt to the same chunks under the key.
    grown = tmp_path / "grown.bin"
    grown.write_bytes(_plain(2 * BLOCK_PLAIN_BYTES + 100))
    with Client(address=address, timeout_s=60.0, encryption_key=key) as client:
        client.put("secret", "grown", grown, reuse_chunks=True)
        with open(grown, "ab") as f:
            f.write(b"+" * 50)
        stats = TransferStats()
        info = client.put("secret", "grown", grown, reuse_chunks=True, stats=stats)
        assert (stats.sent_bytes, stats.reused_bytes) == (150 + cipher_size(0), 2 * BLOCK_CIPHER_BYTES)
        assert info.size_bytes == cipher_size(2 * BLOCK_PLAIN_BYTES + 150)
        assert client.get_bytes("secret", "grown") == grown.read_bytes()
    # So does `nodectl put --encrypt` (under the key file's key).
    assert cli("put", str(grown), "secret/grown-cli", "--encrypt", "--key", str(key_file)).exit_code == 0
    with open(grown, "ab") as f:
        f.write(b"-" * 7)
    again = cli("put", str(grown), "secret/grown-cli", "--encrypt", "--key", str(key_file))
    assert again.exit_code == 0, again.output
    assert f"sent {157 + cipher_size(0)} bytes, {2 * BLOCK_CIPHER_BYTES} already stored" in again.output, again.output
    back = tmp_path / "grown-back.bin"
    assert cli("get", "secret/grown-cli", str(back), "--key", str(key_file)).exit_code == 0
    assert back.read_bytes() == grown.read_bytes()

    # The plaintext is nowhere on any node's disk (chunk files, LMDB with its inline objects).
    for node in cluster.nodes.values():
        for path in pathlib.Path(node.data_dir).rglob("*"):
            if path.is_file():
                assert MARKER not in path.read_bytes(), f"plaintext found in {path}"

    # Identical files deduplicate under one key (the tenant's), not across two.
    big = os.urandom(2 * BLOCK_PLAIN_BYTES)
    with Client(address=address, timeout_s=60.0, encryption_key=key) as client:
        client.create_bucket("dedup")
        client.put("dedup", "one", big)
        client.put("dedup", "two", big)
        wait_for("the second copy to count as saved", lambda: client.usage(bucket="dedup").buckets[0].dedup_saved_bytes
                 == 2 * 3 * (cipher_size(BLOCK_PLAIN_BYTES)), timeout_s=30)
    with Client(address=address, timeout_s=60.0, encryption_key=other) as client:
        client.put("dedup", "three", big)
        usage = client.usage(bucket="dedup").buckets[0]
        assert usage.dedup_saved_bytes == 2 * 3 * cipher_size(BLOCK_PLAIN_BYTES)  # nothing more saved
        assert client.get_bytes("dedup", "three") == big
