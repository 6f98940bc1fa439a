"""Conditional puts through real noded processes: of 8 clients racing through different nodes with the
same condition, exactly one wins each round, the losers get FAILED_PRECONDITION and none of their
bytes ever becomes visible; and the conditions' one-line errors, natively, from nodectl and as S3's
412 PreconditionFailed."""

from __future__ import annotations

import concurrent.futures as cf
import os
import threading

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from nodectl.cli import main
from nodectl.client import Client, resumable
from nodectl.errors import FailedPrecondition, InvalidArgument
from test_s3_live import error_code, s3_client

CLIENTS = 8
ROUNDS = 10


def test_eight_racing_conditional_puts_through_different_nodes_have_one_winner_per_round(cluster_factory):
    """4 nodes, 8 clients (two per node). Round 0 races `--if-absent` for a new key; each later round
    races `--if-match` the ETag the previous winner made. Every round has exactly one winner, the key
    then holds exactly the winner's bytes through every node, and the losers' bytes never appear."""
    cluster = cluster_factory(nodes=4)
    nodes = sorted(cluster.running())
    clients = [Client(address=cluster.nodes[nodes[i % len(nodes)]].address, timeout_s=30.0) for i in range(CLIENTS)]
    try:
        clients[0].create_bucket("race")
        etag = ""
        losers_bytes: set[bytes] = set()
        for round_number in range(ROUNDS):
            bodies = [f"round {round_number} client {i} ".encode() + os.urandom(16) for i in range(CLIENTS)]
            start = threading.Barrier(CLIENTS)

            def attempt(i: int, etag: str = etag) -> object:
                start.wait(timeout=30)
                try:
                    if round_number == 0:
                        return clients[i].put("race", "counter", bodies[i], if_absent=True)
                    return clients[i].put("race", "counter", bodies[i], if_match=etag)
                except FailedPrecondition as err:
                    return err

            with cf.ThreadPoolExecutor(CLIENTS) as pool:
                outcomes = list(pool.map(attempt, range(CLIENTS)))
            winners = [i for i, o in enumerate(outcomes) if not isinstance(o, FailedPrecondition)]
            assert len(winners) == 1, (round_number, outcomes)
            winner = winners[0]
            etag = outcomes[winner].etag
            losers_bytes |= {bodies[i] for i in range(CLIENTS) if i != winner}
            for client in clients[:len(nodes)]:
                assert client.get_bytes("race", "counter") == bodies[winner], round_number
        # Nothing a loser sent is current anywhere, nor in any version listing.
        for client in clients[:len(nodes)]:
            assert client.get_bytes("race", "counter") not in losers_bytes
    finally:
        for client in clients:
            client.close()


def test_condition_errors_native_cli_and_s3(cluster_factory, session_operator, tmp_path):
    cluster = cluster_factory(nodes=3)
    with Client(address=cluster.any_address(), timeout_s=30.0) as client:
        client.create_bucket("cond")
        first = client.put("cond", "k", b"first", if_absent=True)
        with pytest.raises(FailedPrecondition, match="exists"):
            client.put("cond", "k", b"again", if_absent=True)
        with pytest.raises(FailedPrecondition, match="has ETag"):
            client.put("cond", "k", b"x", if_match="0" * 32)
        with pytest.raises(FailedPrecondition, match="does not exist"):
            client.put("cond", "missing", b"x", if_match=first.etag)
        with pytest.raises(InvalidArgument, match="one condition"):
            client.put("cond", "k", b"x", if_match=first.etag, if_absent=True)
        second = client.put("cond", "k", b"second", if_version=first.version)
        assert client.get_bytes("cond", "k") == b"second"
        with pytest.raises(FailedPrecondition, match="is at version"):
            client.put("cond", "k", b"third", if_version=first.version)
        client.put("cond", "k", b"third", if_match=second.etag)
        # In a versioned bucket a version id is the condition.
        client.set_versioning("cond", "enabled")
        v1 = client.put("cond", "v", b"one")
        client.put("cond", "v", b"two", if_version=v1.version_id)
        with pytest.raises(FailedPrecondition):
            client.put("cond", "v", b"three", if_version=v1.version_id)

    runner = CliRunner()
    source = tmp_path / "f.txt"
    source.write_text("cli")
    result = runner.invoke(main, ["--addr", cluster.any_address(), "put", str(source), "cond/k", "--if-absent"],
                           catch_exceptions=False)
    assert result.exit_code == 6 and "exists" in result.output and "Traceback" not in result.output

    s3 = s3_client(next(iter(cluster.nodes.values())), session_operator)
    s3.put_object(Bucket="cond", Key="s3", Body=b"s3 one", IfNoneMatch="*")
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket="cond", Key="s3", Body=b"s3 two", IfNoneMatch="*")
    assert error_code(info) == ("PreconditionFailed", 412)
    tag = s3.head_object(Bucket="cond", Key="s3")["ETag"]
    s3.put_object(Bucket="cond", Key="s3", Body=b"s3 two", IfMatch=tag)
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket="cond", Key="s3", Body=b"s3 three", IfMatch=tag)
    assert error_code(info) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket="cond", Key="s3")["Body"].read() == b"s3 two"


def test_multipart_uploads_take_tags_and_conditions(cluster_factory, session_operator, tmp_path):
    """An upload's tags reach the object it completes into, and a condition on its completion is
    decided like a put's: the loser stores nothing and its upload stays, to complete or abort;
    natively, through the resumable put (which also refuses before sending anything) and in S3."""
    cluster = cluster_factory(nodes=3)
    with Client(address=cluster.any_address(), timeout_s=30.0) as client:
        client.create_bucket("mpu")
        first = client.create_upload("mpu", "big", tags={"team": "red"})
        part = client.upload_part("mpu", "big", first, 1, b"first upload")
        made = client.complete_upload("mpu", "big", first, [part], if_absent=True)
        assert client.stat("mpu", "big").info.tags == {"team": "red"} and made.tags == {"team": "red"}
        second = client.create_upload("mpu", "big")
        late = client.upload_part("mpu", "big", second, 1, b"second upload")
        with pytest.raises(FailedPrecondition, match="exists"):
            client.complete_upload("mpu", "big", second, [late], if_absent=True)
        assert client.get_bytes("mpu", "big") == b"first upload"
        assert [p.part_number for p in client.list_upload_parts("mpu", "big", second)] == [1]  # still there
        client.complete_upload("mpu", "big", second, [late], if_match=made.etag)
        assert client.get_bytes("mpu", "big") == b"second upload" and client.stat("mpu", "big").info.tags == {}

        source = tmp_path / "six.bin"
        body = os.urandom(6 * 1024 * 1024)
        source.write_bytes(body)
        state = tmp_path / "state"
        info = resumable.put_resumable(client, "mpu", "six.bin", source, state_dir=state, resume=False,
                                       part_bytes=5 * 1024 * 1024, tags={"size": "six"}, if_absent=True)
        assert info.tags == {"size": "six"} and client.get_bytes("mpu", "six.bin") == body
        with pytest.raises(FailedPrecondition, match="nothing was sent"):
            resumable.put_resumable(client, "mpu", "six.bin", source, state_dir=state, resume=False,
                                    part_bytes=5 * 1024 * 1024, if_absent=True)

    s3 = s3_client(next(iter(cluster.nodes.values())), session_operator)
    upload = s3.create_multipart_upload(Bucket="mpu", Key="s3", Tagging="tier=hot&owner=ops")["UploadId"]
    etag = s3.upload_part(Bucket="mpu", Key="s3", UploadId=upload, PartNumber=1, Body=b"s3 part")["ETag"]
    s3.complete_multipart_upload(Bucket="mpu", Key="s3", UploadId=upload, IfNoneMatch="*",
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket="mpu", Key="s3")["TagSet"]} == {
        "tier": "hot", "owner": "ops"}
    again = s3.create_multipart_upload(Bucket="mpu", Key="s3")["UploadId"]
    etag = s3.upload_part(Bucket="mpu", Key="s3", UploadId=again, PartNumber=1, Body=b"s3 late")["ETag"]
    with pytest.raises(ClientError) as info:
        s3.complete_multipart_upload(Bucket="mpu", Key="s3", UploadId=again, IfNoneMatch="*",
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert error_code(info) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket="mpu", Key="s3")["Body"].read() == b"s3 part"
