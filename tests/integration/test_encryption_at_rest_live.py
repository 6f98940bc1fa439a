"""Encryption at rest through real noded processes: buckets set to encrypt store every chunk sealed
(objects of every chunk-edge size, never inline, under replication, erasure coding and with
compression), read back whole and in ranges, also with a node killed and after a restart;
identical chunks deduplicate within a tenant and not across tenants; a put of an appended file
sends only the new chunks; no node's data dir (chunk files, LMDB) holds the plaintext, nor the
digests of an encrypted version; S3 clients set it per put, per multipart upload and per
bucket (Put/Get/DeleteBucketEncryption) and see x-amz-server-side-encryption; rotating the master
key re-wraps the data keys and rewrites no chunk; a node without the right master key refuses in one
line."""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil

import blake3
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from click.testing import CliRunner

from cluster_checks import wait_for
from nodectl.cli import main
from nodectl.client.reuse import TransferStats
from nodectl.errors import FailedPrecondition
from ringstore.auth import masterkeys
from ringstore.auth.credentials import Credentials

CHUNK = 64 * 1024
INLINE = 4096
MARKER = b"AT-REST-PLAINTEXT-MARKER-"
SETTINGS = {"storage.chunk_size_bytes": str(CHUNK), "storage.frame_size_bytes": str(CHUNK // 4),
            "storage.inline_max_bytes": str(INLINE)}


def _plain(size: int, salt: int) -> bytes:
    """Text-like bytes (so zstd shrinks them) full of MARKER, different per salt."""
    line = MARKER + str(salt).encode() + b" "
    return (line * (size // len(line) + 1))[:size]


def _grep_data_dirs(cluster, needle: bytes) -> list[str]:
    return [str(path) for node in cluster.nodes.values() for path in pathlib.Path(node.data_dir).rglob("*")
            if path.is_file() and needle in path.read_bytes()]


def _s3(cluster, node_id: str = "node-1"):
    credentials = cluster.credentials
    return boto3.client("s3", endpoint_url=cluster.nodes[node_id].s3_address, aws_access_key_id=credentials.key_id,
                        aws_secret_access_key=credentials.secret, region_name="ringstore",
                        verify=os.environ["RINGSTORE_CA"],
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def test_encrypted_buckets_round_trip_deduplicate_per_tenant_and_leave_no_plaintext(cluster_factory, tmp_path):
    cluster = cluster_factory(nodes=5, settings=SETTINGS)
    sizes = [0, 1, INLINE, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17]
    objects: dict[tuple[str, str], bytes] = {}
    with cluster.client(timeout_s=60.0) as client:
        client.create_bucket("vault")
        client.create_bucket("vaultec", ec="3+2")
        client.create_bucket("zvault")
        for bucket in ("vault", "vaultec", "zvault"):
            assert client.set_encryption(bucket, True).encryption == "aes256-gcm"
        client.set_compression("zvault", "zstd")
        for bucket in ("vault", "vaultec", "zvault"):
            for size in sizes:
                objects[(bucket, f"f{size}")] = _plain(size, size)
                info = client.put(bucket, f"f{size}", objects[(bucket, f"f{size}")])
                assert info.encryption == "aes256-gcm" and not info.inline, (bucket, size)
        for (bucket, key), data in objects.items():
            stat = client.stat(bucket, key)
            assert stat.encrypted_chunks == stat.info.chunk_count >= 1, (bucket, key)
            assert all(c.data_key_id.startswith("operator/") for c in stat.chunks)
            assert sum(c.object_bytes for c in stat.chunks) == len(data)
            if bucket == "zvault" and len(data) >= CHUNK:
                assert stat.compressed_chunks >= 1 and stat.stored_bytes < len(data) / 2, key

        def check_all(reader) -> None:
            for (bucket, key), data in objects.items():
                assert reader.get_bytes(bucket, key) == data, (bucket, key)
                for start, length in ((0, 1), (CHUNK - 3, 10), (CHUNK, CHUNK), (2 * CHUNK + 5, None)):
                    if start < len(data):
                        end = None if length is None else start + length
                        got = reader.get_bytes(bucket, key, range_start_bytes=start, range_length_bytes=length)
                        assert got == data[start:end], (bucket, key, start, length)

        check_all(client)

        # Within a tenant identical chunks are one stored chunk; another tenant's are its own.
        big = objects[("vault", f"f{3 * CHUNK + 17}")]
        client.put("vault", "again", big)
        first, again = client.stat("vault", f"f{3 * CHUNK + 17}"), client.stat("vault", "again")
        assert [c.chunk_id_hex for c in first.chunks] == [c.chunk_id_hex for c in again.chunks]
        # An appended file sends only its new chunks: the key's current version is found by the
        # keyed identities of its chunks (HasChunks with the key), and they stay sealed.
        path = tmp_path / "grown.bin"
        path.write_bytes(_plain(3 * CHUNK, 41))
        client.put("vault", "grown", path, reuse_chunks=True)
        with open(path, "ab") as f:
            f.write(_plain(100, 42))
        grown = TransferStats()
        client.put("vault", "grown", path, reuse_chunks=True, stats=grown)
        assert (grown.sent_bytes, grown.reused_bytes) == (100, 3 * CHUNK)
        stat = client.stat("vault", "grown")
        assert stat.encrypted_chunks == 4 and client.get_bytes("vault", "grown") == path.read_bytes()
        client.create_tenant("acme")
        made = client.create_key("acme")
    with cluster.client(credentials=Credentials(made.key.key_id, made.secret), timeout_s=60.0) as acme:
        acme.create_bucket("acme-vault")
        acme.set_encryption("acme-vault", True)
        acme.put("acme-vault", "same", big)
        theirs = acme.stat("acme-vault", "same")
        assert not {c.chunk_id_hex for c in theirs.chunks} & {c.chunk_id_hex for c in first.chunks}
        assert {c.data_key_id.split("/")[0] for c in theirs.chunks} == {"acme"}
        assert acme.get_bytes("acme-vault", "same") == big

    # nodectl shows the setting and the sealed chunks.
    runner = CliRunner()
    cli = lambda *args: runner.invoke(main, ["--addr", cluster.any_address(), *args])  # noqa: E731
    result = cli("bucket", "set", "vault", "--encryption", "on")
    assert result.exit_code == 0 and "encryption:  aes256-gcm at rest" in result.output, result.output
    assert "encryption:  aes256-gcm at rest" in cli("bucket", "info", "vault").output
    shown = cli("stat", f"vault/f{CHUNK + 1}").output
    assert "2 encrypted at rest (AES-256-GCM)" in shown and "(keyed)  encrypted under operator/" in shown, shown

    # S3: the header per put and per multipart upload, and the bucket setting.
    s3 = _s3(cluster)
    s3.create_bucket(Bucket="plain")
    with pytest.raises(ClientError) as missing:
        s3.get_bucket_encryption(Bucket="plain")
    assert missing.value.response["Error"]["Code"] == "ServerSideEncryptionConfigurationNotFoundError"
    put = s3.put_object(Bucket="plain", Key="sse", Body=_plain(CHUNK + 5, 77), ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    head = _s3(cluster, "node-2").head_object(Bucket="plain", Key="sse")
    assert head["ServerSideEncryption"] == "AES256"
    assert _s3(cluster, "node-3").get_object(Bucket="plain", Key="sse")["Body"].read() == _plain(CHUNK + 5, 77)
    with pytest.raises(ClientError) as kms:
        s3.put_object(Bucket="plain", Key="kms", Body=b"x", ServerSideEncryption="aws:kms")
    assert kms.value.response["Error"]["Code"] == "NotImplemented"
    source = os.urandom(CHUNK + 9)
    s3.put_object(Bucket="plain", Key="clear", Body=source)
    assert "ServerSideEncryption" not in s3.head_object(Bucket="plain", Key="clear")
    upload = s3.create_multipart_upload(Bucket="plain", Key="parts", ServerSideEncryption="AES256")
    assert upload["ServerSideEncryption"] == "AES256"
    parts = []
    for number, body in ((1, _plain(5 * 1024 * 1024, 1)), (2, _plain(CHUNK, 2))):
        part = s3.upload_part(Bucket="plain", Key="parts", UploadId=upload["UploadId"], PartNumber=number, Body=body)
        parts.append({"PartNumber": number, "ETag": part["ETag"]})
    s3.complete_multipart_upload(Bucket="plain", Key="parts", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": parts})
    s3.put_bucket_encryption(Bucket="plain", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    rule = s3.get_bucket_encryption(Bucket="plain")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.put_object(Bucket="plain", Key="by-bucket", Body=_plain(100, 3))["ServerSideEncryption"] == "AES256"
    copied = s3.copy_object(Bucket="plain", Key="copy", CopySource={"Bucket": "plain", "Key": "clear"})
    assert copied["ServerSideEncryption"] == "AES256"
    s3.delete_bucket_encryption(Bucket="plain")
    with pytest.raises(ClientError):
        s3.get_bucket_encryption(Bucket="plain")
    with cluster.client(timeout_s=60.0) as client:
        for key in ("sse", "parts", "by-bucket", "copy"):
            stat = client.stat("plain", key)
            assert stat.encrypted_chunks == stat.info.chunk_count >= 1, key
        assert client.stat("plain", "clear").encrypted_chunks == 0
        assert client.get_bytes("plain", "copy") == source
        assert client.get_bytes("plain", "parts") == _plain(5 * 1024 * 1024, 1) + _plain(CHUNK, 2)

    # No node's disk holds the plaintext: not the chunk files, not LMDB.
    assert _grep_data_dirs(cluster, MARKER) == []
    # Nor the digests that would let a thief test whether a known file is stored: each version's
    # blake3 (and an S3 object's MD5, its ETag) is sealed in LMDB, and reads back whole.
    sse_body = _plain(CHUNK + 5, 77)
    for digest in [blake3.blake3(data).digest() for data in objects.values() if data] + [
            blake3.blake3(sse_body).digest(), hashlib.md5(sse_body).digest()]:
        assert _grep_data_dirs(cluster, digest) == [], "a digest of an encrypted version is on disk"
    assert s3.head_object(Bucket="plain", Key="sse")["ETag"] == f'"{hashlib.md5(sse_body).hexdigest()}"'
    with cluster.client(timeout_s=60.0) as client:
        info = client.stat("vault", f"f{CHUNK + 1}").info
        assert info.blake3_hex == blake3.blake3(objects[("vault", f"f{CHUNK + 1}")]).hexdigest()

    # A node killed: every erasure-coded chunk it held a data share of is decoded from parity, then
    # opened; replicas read from the others. (Read at once: its holders refuse connections.)
    cluster.kill("node-5")
    with cluster.client(address=cluster.nodes["node-1"].address, timeout_s=60.0) as client:
        check_all(client)
    # Restarted, it reads through the data keys' records (nothing of them is kept in a data dir).
    cluster.restart("node-5")
    with cluster.client(address=cluster.nodes["node-5"].address, timeout_s=60.0) as client:
        assert client.get_bytes("vaultec", f"f{3 * CHUNK + 17}") == objects[("vaultec", f"f{3 * CHUNK + 17}")]
        assert client.get_bytes("zvault", f"f{CHUNK + 1}") == objects[("zvault", f"f{CHUNK + 1}")]


def _hup_all(cluster, node_ids, expected_primary: str) -> None:
    for node_id in node_ids:
        cluster.kill(node_id, "HUP")
    with cluster.client(timeout_s=30.0) as client:
        wait_for(f"{', '.join(node_ids)} to hold {expected_primary}", lambda: all(
            client.node_status(n).master_key_ids[-1:] == [expected_primary] for n in node_ids), timeout_s=30)


def test_master_key_rotation_rewraps_data_keys_and_no_chunk(cluster_factory, tmp_path):
    cluster = cluster_factory(nodes=3, settings=SETTINGS)
    keyring_file = cluster.master_key_file
    old = masterkeys.load(keyring_file).primary.key_id
    data = _plain(2 * CHUNK + 3, 5)
    with cluster.client(timeout_s=60.0) as client:
        client.create_bucket("vault")
        client.set_encryption("vault", True)
        client.put("vault", "k", data)
        client.create_tenant("acme")
        made = client.create_key("acme")
        before = [c.chunk_id_hex for c in client.stat("vault", "k").chunks]
        assert [client.node_status(n).master_key_ids for n in cluster.nodes] == [[old]] * 3
    with cluster.client(credentials=Credentials(made.key.key_id, made.secret), timeout_s=60.0) as acme:
        acme.create_bucket("acme-vault")
        acme.set_encryption("acme-vault", True)
        acme.put("acme-vault", "k", data)

    runner = CliRunner()
    cli = lambda *args, node="node-1": runner.invoke(main, ["--addr", cluster.nodes[node].address, *args])  # noqa: E731
    result = cli("admin", "rewrap-keys")
    assert result.exit_code == 0 and f"2 data keys: re-wrapped 0 under {old}, 2 already were" in result.output

    # A new primary, given to node-1 only: re-wrapping is refused (node-2 could not open the keys).
    before_rotation = tmp_path / "old.keys"
    shutil.copy(keyring_file, before_rotation)
    new = masterkeys.add_new(keyring_file).key_id
    _hup_all(cluster, ["node-1"], new)
    refused = cli("admin", "rewrap-keys")
    assert refused.exit_code == 6 and f"does not hold master key {new}" in refused.output, refused.output
    assert "Traceback" not in refused.output
    _hup_all(cluster, ["node-2", "node-3"], new)
    assert "would re-wrap 2" in cli("admin", "rewrap-keys", "--dry-run").output
    result = cli("admin", "rewrap-keys", node="node-2")
    assert result.exit_code == 0 and f"re-wrapped 2 under {new}, 0 already were" in result.output, result.output

    # The old key leaves the keyring; restarted nodes (no key in memory) read through the new one.
    assert cli("admin", "master-key", "remove", keyring_file, old).exit_code == 0
    cluster.restart_many(list(cluster.nodes))
    with cluster.client(timeout_s=60.0) as client:
        assert client.get_bytes("vault", "k") == data
        assert [c.chunk_id_hex for c in client.stat("vault", "k").chunks] == before, "no chunk was rewritten"
    with cluster.client(credentials=Credentials(made.key.key_id, made.secret), timeout_s=60.0) as acme:
        assert acme.get_bytes("acme-vault", "k") == data

    # A node given only the old keyring cannot open the data keys: one line naming both key ids.
    shutil.copy(before_rotation, keyring_file)
    cluster.restart("node-3")
    with cluster.client(address=cluster.nodes["node-3"].address, timeout_s=30.0) as client:
        with pytest.raises(FailedPrecondition, match=f"wrapped under master key {new}, which this node's keyring "
                                                     f"\\({old}\\) lacks"):
            client.get_bytes("vault", "k")
    # Without any keyring a node neither encrypts nor decrypts, and says how to fix it.
    os.unlink(keyring_file)
    cluster.restart("node-3")
    with cluster.client(address=cluster.nodes["node-3"].address, timeout_s=30.0) as client:
        assert client.node_status().master_key_ids == []
        for call in (lambda: client.get_bytes("vault", "k"), lambda: client.put("vault", "k2", data),
                     lambda: client.set_encryption("vault", True)):
            with pytest.raises(FailedPrecondition, match="has no master key, so it cannot encrypt at rest"):
                call()
