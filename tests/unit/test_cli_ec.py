"""Erasure-coding policies and `convert` in nodectl: parsing, the wire, progress, and `stat`.

The pure parts (parse_ec, policy_pb, version_text, deadlines, formatting) are table-driven; the
commands run through click's CliRunner, and the client directly, against
`nodectl_fakes.FakeServer`, a real grpc.server on a free loopback port.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result
from ringstore.v1 import common_pb2

from nodectl import cli, errors
from nodectl.cli import progress as cli_progress
from nodectl.client import (
    EC_SHARES_MAX,
    STREAM_DEADLINE_BYTES_PER_S,
    Client,
    ConvertProgress,
    ConvertResult,
    ObjectInfo,
    ObjectStat,
    convert_deadline_s,
    expansion_ratio,
    parse_ec,
    policy_pb,
    validate_policy,
    version_text,
)
from nodectl_fakes import CHUNK_SIZE_BYTES, FakeServer

MIB = 1024 * 1024
# Three fake chunks (4 + 4 + 2 MiB): big enough for the CLI's progress line (4 MiB and up).
BIG_BYTES = 10 * MIB

# ---------------------------------------------------------------------------------------------
# Pure: parsing and building policies
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,parsed", [
    ("4+2", (4, 2)), ("1+1", (1, 1)), ("30+2", (30, 2)), ("16+16", (16, 16)), (" 4+2 ", (4, 2)),
    ("04+02", (4, 2)),
])
def test_parse_ec_accepts_k_plus_m(text: str, parsed: tuple[int, int]) -> None:
    """"K+M" parses to (K, M) for K, M >= 1 and K+M up to 32; surrounding blanks are ignored."""
    assert parse_ec(text) == parsed


@pytest.mark.parametrize("text,message", [
    ("0+2", "ec=0+2 is invalid: K (data shares) must be at least 1"),
    ("4+0", "ec=4+0 is invalid: M (parity shares) must be at least 1; for no redundancy use "
            "replicas=1"),
    ("4+29", "ec=4+29 is invalid: K+M is 33; the limit is 32"),
    ("0+0", "ec=0+0 is invalid: K (data shares) must be at least 1"),
    ("x+y", "ec='x+y' is not K+M: give data and parity shares as two integers, e.g. 4+2"),
    ("4-2", "ec='4-2' is not K+M"),
    ("4+", "ec='4+' is not K+M"),
    ("+2", "ec='+2' is not K+M"),
    ("4+2+1", "ec='4+2+1' is not K+M"),
    ("-1+2", "ec='-1+2' is not K+M"),
    ("4 + 2", "ec='4 + 2' is not K+M"),
    ("", "ec='' is not K+M"),
    ("1" * 40 + "+2", f"ec='{'1' * 40}+2' is invalid: K+M is over the limit of 32"),
    ("4+1000000000", "ec='4+1000000000' is invalid: K+M is over the limit of 32"),
    ("4+100000000", "ec=4+100000000 is invalid: K+M is 100000004; the limit is 32"),
])
def test_parse_ec_rejects_bad_forms_naming_the_numbers(text: str, message: str) -> None:
    """A bad K+M is InvalidArgument (exit 2) on one line that names the numbers and the rule."""
    with pytest.raises(errors.InvalidArgument) as caught:
        parse_ec(text)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value) and caught.value.exit_code == 2


def test_ec_share_limit_is_the_wire_contracts() -> None:
    """K+M is capped at 32, as common.proto's ErasureCoding says."""
    assert EC_SHARES_MAX == 32
    assert parse_ec("31+1") == (31, 1)


@pytest.mark.parametrize("replicas,ec,expected", [
    (None, None, None),
    (3, None, common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=3))),
    (None, "4+2", common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(
        data_shares=4, parity_shares=2))),
    (None, (6, 3), common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(
        data_shares=6, parity_shares=3))),
])
def test_policy_pb_builds_the_wire_policy(replicas, ec, expected) -> None:
    """policy_pb gives replication, erasure coding, or None (leave the field unset)."""
    assert policy_pb(replicas, ec) == expected


@pytest.mark.parametrize("replicas,ec,message", [
    (3, "4+2", "give either replicas or ec, not both"),
    (3, (4, 2), "give either replicas or ec, not both"),
    (None, (0, 2), "ec=0+2 is invalid: K (data shares) must be at least 1"),
    (None, (True, 2), "ec must be a 'K+M' string or a (K, M) pair of integers"),
    (None, (4, 2, 1), "ec must be a 'K+M' string or a (K, M) pair of integers"),
    (None, (4.0, 2), "ec must be a 'K+M' string or a (K, M) pair of integers"),
    (None, 42, "ec must be a 'K+M' string or a (K, M) pair of integers"),
    (0, None, "replicas must be an integer >= 1, got 0"),
])
def test_bad_policies_are_invalid_argument(replicas, ec, message: str) -> None:
    """Both given, bad shapes and bad types are InvalidArgument with a one-line message."""
    with pytest.raises(errors.InvalidArgument) as caught:
        validate_policy(replicas, ec)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("stamp,text", [
    (common_pb2.VersionStamp(), ""),
    (common_pb2.VersionStamp(physical_ms=17, logical=2, node_id="node-a"), "17.2.node-a"),
    (common_pb2.VersionStamp(physical_ms=17, logical=2, node_id="node-a", rewrite=1),
     "17.2.node-a+r1"),
    (common_pb2.VersionStamp(physical_ms=17, logical=0, node_id="n", rewrite=12), "17.0.n+r12"),
])
def test_version_text_shows_rewrites(stamp: common_pb2.VersionStamp, text: str) -> None:
    """A converted version reads "physical.logical.node+rN"; an unconverted one is unchanged."""
    assert version_text(stamp) == text


def test_convert_deadline_scales_with_size_and_expansion() -> None:
    """A conversion may take timeout_s plus size * (1 + expansion) at the stream rate."""
    assert expansion_ratio(policy_pb(3, None)) == 3.0
    assert expansion_ratio(policy_pb(None, "4+2")) == 1.5
    assert expansion_ratio(common_pb2.RedundancyPolicy()) == 1.0
    assert convert_deadline_s(30.0, 0, 1.5) == 30.0
    assert convert_deadline_s(30.0, 4 * STREAM_DEADLINE_BYTES_PER_S, 1.5) == pytest.approx(40.0)


# ---------------------------------------------------------------------------------------------
# Pure: formatting
# ---------------------------------------------------------------------------------------------


def _info(**changes) -> ObjectInfo:
    fields = dict(bucket="photos", key="cat.jpg", size_bytes=1000, blake3_hex="ab",
                  version="1.0.node-a", content_type="", metadata={}, replicas=None,
                  chunk_count=3, created_at_unix_ms=0, inline=False, policy="ec=4+2", ec=(4, 2))
    fields.update(changes)
    return ObjectInfo(**fields)


@pytest.mark.parametrize("ec,index,role", [
    (None, 0, "copy 0"), (None, 2, "copy 2"),
    ((4, 2), 0, "share 0 (data)"), ((4, 2), 3, "share 3 (data)"), ((4, 2), 4, "share 4 (parity)"),
    ((1, 1), 1, "share 1 (parity)"),
])
def test_holder_roles(ec, index: int, role: str) -> None:
    """Holders read "copy N" under replication; under ec=K+M shares below K are data."""
    assert cli.holder_role(ec, index) == role


@pytest.mark.parametrize("stat,text", [
    (ObjectStat(info=_info(size_bytes=1000), chunks=[], physical_bytes=1500),
     "1500 bytes (1.5 KiB), 1.50x logical"),
    (ObjectStat(info=_info(size_bytes=100, inline=True, chunk_count=0), chunks=[]),
     "0 bytes (inline in the manifest)"),
    (ObjectStat(info=_info(size_bytes=100), chunks=[], physical_bytes=0),
     "- (the node did not report it)"),
])
def test_physical_line(stat: ObjectStat, text: str) -> None:
    """stat's physical line gives bytes on disk and the ratio to the logical size."""
    assert cli.physical_text(stat) == text


@pytest.mark.parametrize("result,line", [
    (ConvertResult(info=_info(), copies_released=6, copies_still_referenced=0,
                   copies_not_reached=0, unchanged=False),
     "converted photos/cat.jpg to ec=4+2: 3 chunks rewritten, 6 old copies released "
     "(0 still referenced, 0 not reached)"),
    (ConvertResult(info=_info(chunk_count=1, policy="replicas=2", ec=None, replicas=2),
                   copies_released=1, copies_still_referenced=2, copies_not_reached=3,
                   unchanged=False),
     "converted photos/cat.jpg to replicas=2: 1 chunk rewritten, 1 old copy released "
     "(2 still referenced, 3 not reached)"),
    (ConvertResult(info=_info(), copies_released=0, copies_still_referenced=0,
                   copies_not_reached=0, unchanged=True),
     "photos/cat.jpg already has ec=4+2; nothing to do"),
    (ConvertResult(info=_info(policy=""), copies_released=0, copies_still_referenced=0,
                   copies_not_reached=0, unchanged=True),
     "photos/cat.jpg already has ec=6+3; nothing to do"),
])
def test_convert_result_line(result: ConvertResult, line: str) -> None:
    """convert prints one line: what was rewritten and released, or that nothing was to do."""
    assert cli.format_convert_result("photos", "cat.jpg", result, "ec=6+3") == line


def test_progress_line_carries_a_detail() -> None:
    """A progress detail ("2/3 chunks") sits between the label and the byte counts."""
    now = [0.0]
    out = io.StringIO()
    progress = cli.Progress(label="convert b/k", total_bytes=8 * MIB, stream=out, enabled=True,
                            monotonic_s=lambda: now[0])
    now[0] = 1.0
    progress.update(4 * MIB, detail="1/2 chunks")
    assert out.getvalue() == "\rconvert b/k  1/2 chunks  4.0 MiB / 8.0 MiB   50%  4.2 MB/s"


# ---------------------------------------------------------------------------------------------
# The client against a real in-process server
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(server: FakeServer, sleeps: list[float]) -> Iterator[Client]:
    with Client(address=server.address, timeout_s=10.0, retries_max=3, retry_backoff_s=0.1,
                sleep=sleeps.append, rng=random.Random(1)) as c:
        yield c


@pytest.mark.parametrize("call", [
    lambda c: c.create_bucket("photos", ec="4-2"),
    lambda c: c.create_bucket("photos", replicas=2, ec="4+2"),
    lambda c: c.put("photos", "k", b"x", ec=(0, 2)),
    lambda c: c.put("photos", "k", b"x", replicas=3, ec=(4, 2)),
    lambda c: c.convert("photos", "k"),
    lambda c: c.convert("photos", "k", replicas=1, ec="1+1"),
    lambda c: c.convert("photos", "k", ec="4+29"),
    lambda c: c.convert("Photos", "k", ec="4+2"),
])
def test_bad_policy_is_rejected_before_any_rpc(server: FakeServer, client: Client, call) -> None:
    """A bad or doubled policy raises InvalidArgument and sends nothing to the node."""
    with pytest.raises(errors.InvalidArgument):
        call(client)
    assert server.node.calls == []


def test_ec_policy_goes_on_the_wire_and_comes_back(server: FakeServer, client: Client) -> None:
    """create_bucket and put send erasure_coding{K, M}; the replies read back as ec=(K, M)."""
    bucket = client.create_bucket("photos", ec="4+2")
    assert (bucket.policy, bucket.ec, bucket.replicas) == ("ec=4+2", (4, 2), None)
    wire = server.node.buckets["photos"].default_policy.erasure_coding
    assert (wire.data_shares, wire.parity_shares) == (4, 2)
    info = client.put("photos", "a", b"x" * 10_000, ec=(2, 1))
    assert (info.policy, info.ec) == ("ec=2+1", (2, 1))
    assert server.node.put_headers[-1].policy == policy_pb(None, "2+1")
    default = client.put("photos", "b", b"y" * 10_000)
    assert not server.node.put_headers[-1].HasField("policy")
    assert default.ec == (4, 2)  # the bucket's default
    assert client.put("photos", "c", b"z", replicas=2).ec is None


def test_stat_reports_physical_bytes_and_share_hashes(client: Client) -> None:
    """stat carries physical_bytes and, under ec, one share hash per share; to_dict has both."""
    client.create_bucket("photos", ec="4+2")
    client.put("photos", "big", b"\x07" * (CHUNK_SIZE_BYTES + 4000))
    stat = client.stat("photos", "big")
    # Each chunk stores K+M shares of ceil(size / K) bytes.
    assert stat.physical_bytes == 6 * (CHUNK_SIZE_BYTES // 4) + 6 * 1000
    assert [h.share_index for h in stat.chunks[0].holders] == [0, 1, 2, 3, 4, 5]
    assert all(len(c.share_blake3_hex) == 6 for c in stat.chunks)
    document = json.loads(json.dumps(stat.to_dict()))
    assert document["physical_bytes"] == stat.physical_bytes
    assert document["info"]["ec"] == [4, 2]


def test_convert_streams_progress_then_result(server: FakeServer, client: Client) -> None:
    """convert calls progress per message, then returns the result with the new policy."""
    client.create_bucket("photos")
    client.put("photos", "big", b"\x01" * BIG_BYTES)
    seen: list[ConvertProgress] = []
    result = client.convert("photos", "big", ec="4+2", progress=seen.append)
    assert [(p.chunks_done, p.chunks_total) for p in seen] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert seen[-1].bytes_done == seen[-1].bytes_total == BIG_BYTES
    assert not result.unchanged and (result.info.policy, result.info.ec) == ("ec=4+2", (4, 2))
    assert result.copies_released == 9  # 3 chunks x 3 old copies
    assert result.info.version.endswith("+r1")
    assert server.node.convert_requests[-1].policy == policy_pb(None, (4, 2))
    assert client.stat("photos", "big").info.policy == "ec=4+2"
    again = client.convert("photos", "big", ec=(4, 2), progress=seen.append)
    assert again.unchanged and again.copies_released == 0


def test_convert_is_retried_after_unavailable_mid_stream(
        server: FakeServer, client: Client, sleeps: list[float]) -> None:
    """A conversion broken by UNAVAILABLE is started again (the node's is idempotent)."""
    client.create_bucket("photos")
    client.put("photos", "big", b"\x02" * BIG_BYTES)
    server.node.convert_break_after_chunks = 1
    seen: list[int] = []
    result = client.convert("photos", "big", replicas=2,
                            progress=lambda p: seen.append(p.chunks_done))
    assert server.node.calls.count("ConvertObject") == 2 and len(sleeps) == 1
    assert seen == [0, 1, 0, 1, 2, 3]  # progress starts over with the new attempt
    assert result.info.policy == "replicas=2" and not result.unchanged


def test_convert_errors_keep_the_node_message(server: FakeServer, client: Client) -> None:
    """A missing object is NotFound; a node refusal keeps its message and is not retried."""
    client.create_bucket("photos")
    with pytest.raises(errors.NotFound, match="object photos/nope not found"):
        client.convert("photos", "nope", ec="4+2")
    client.put("photos", "k", b"x" * 10_000)
    server.node.fail_next("ConvertObject", errors.InvalidArgument.code,
                          "ec=4+2 needs 6 live nodes; 2 are ALIVE")
    with pytest.raises(errors.InvalidArgument, match="needs 6 live nodes; 2 are ALIVE"):
        client.convert("photos", "k", ec="4+2")
    assert server.node.calls.count("ConvertObject") == 2


def test_convert_stalled_past_its_deadline_is_deadline_exceeded(server: FakeServer) -> None:
    """A node that goes quiet for longer than timeout_s after the last progress is cut off."""
    with Client(address=server.address, timeout_s=0.3, retries_max=0) as c:
        c.create_bucket("photos")
        c.put("photos", "k", b"x" * 10_000)
        server.node.convert_stall_s = 5.0
        with pytest.raises(errors.DeadlineExceeded, match=r"convert photos/k: deadline exceeded "
                           r"after \d+\.\d s \(1 of 1 chunks done\)") as caught:
            c.convert("photos", "k", ec="2+1")
        assert caught.value.exit_code == 4


# ---------------------------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def run(server: FakeServer):
    runner = CliRunner()

    def invoke(*args: str, input: bytes | None = None) -> Result:
        return runner.invoke(cli.main, ["--retries-max", "0", *args], input=input,
                             env={"RINGSTORE_ADDR": server.address})

    return invoke


def _assert_one_line_error(result: Result, exit_code: int, fragment: str) -> None:
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("nodectl: error: ")
    assert fragment in result.stderr, result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("flags,fragment", [
    (("--ec", "0+2"), "ec=0+2 is invalid: K (data shares) must be at least 1"),
    (("--ec", "4+0"), "ec=4+0 is invalid: M (parity shares) must be at least 1"),
    (("--ec", "4+29"), "ec=4+29 is invalid: K+M is 33; the limit is 32"),
    (("--ec", "x+y"), "ec='x+y' is not K+M: give data and parity shares as two integers"),
    (("--ec", "4-2"), "ec='4-2' is not K+M"),
    (("--ec", "4+2", "--replicas", "3"), "give either --replicas or --ec, not both"),
    (("--replicas", "0"), "--replicas"),
])
@pytest.mark.parametrize("command", ["mb", "put", "convert"])
def test_bad_policy_flags_exit_2_with_the_message(run, server: FakeServer, command: str,
                                                  flags: tuple[str, ...], fragment: str) -> None:
    """mb, put and convert reject a bad --ec, or both flags, with exit 2 before any request."""
    args = {"mb": ("mb", "photos"), "put": ("put", "/nonexistent/file", "photos/k"),
            "convert": ("convert", "photos/k")}[command]
    _assert_one_line_error(run(*args, *flags), 2, fragment)
    assert server.node.calls == []  # not even the missing local file was looked at first


def test_mb_and_put_pass_the_policy_on_the_wire(run, server: FakeServer) -> None:
    """mb --ec and put --ec/--replicas send the policy; ls shows the bucket's."""
    assert run("mb", "photos", "--ec", "4+2").stdout == "created bucket photos (ec=4+2)\n"
    policy = server.node.buckets["photos"].default_policy
    assert policy == policy_pb(None, (4, 2))
    assert run("ls").stdout == "NAME    POLICY\nphotos  ec=4+2\n"
    assert run("put", "-", "photos/a", "--ec", "2+1", input=b"data").exit_code == 0
    assert server.node.put_headers[-1].policy == policy_pb(None, (2, 1))
    assert run("put", "-", "photos/b", "--replicas", "2", input=b"data").exit_code == 0
    assert server.node.put_headers[-1].policy == policy_pb(2, None)
    assert run("put", "-", "photos/c", input=b"data").exit_code == 0
    assert not server.node.put_headers[-1].HasField("policy")


def test_convert_prints_progress_and_result(run, server: FakeServer,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """convert draws progress on a terminal's stderr and prints one result line on stdout."""
    monkeypatch.setattr(cli_progress, "_stderr_is_terminal", lambda: True)
    run("mb", "photos")
    run("put", "-", "photos/cat.jpg", input=b"\x03" * BIG_BYTES)
    result = run("convert", "photos/cat.jpg", "--ec", "4+2")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ("converted photos/cat.jpg to ec=4+2: 3 chunks rewritten, "
                             "9 old copies released (0 still referenced, 0 not reached)\n")
    assert result.stderr.startswith("\rconvert photos/cat.jpg  0/3 chunks  0 B / 10.0 MiB")
    assert result.stderr.endswith("\n")
    assert "\rconvert photos/cat.jpg  3/3 chunks  10.0 MiB / 10.0 MiB  100%" in result.stderr
    again = run("convert", "photos/cat.jpg", "--ec", "4+2")
    assert (again.exit_code, again.stdout) == (
        0, "photos/cat.jpg already has ec=4+2; nothing to do\n")
    assert again.stderr == ""  # nothing rewritten, no progress line


def test_convert_json_and_partial_release(run, server: FakeServer) -> None:
    """convert --json prints the result document; copies not reached still exit 0."""
    run("mb", "photos", "--ec", "4+2")
    run("put", "-", "photos/k", input=b"\x04" * 10_000)
    server.node.convert_copies_not_reached = 2
    result = run("convert", "photos/k", "--replicas", "3", "--json")
    assert result.exit_code == 0 and result.stderr == ""
    document = json.loads(result.stdout)
    assert document["unchanged"] is False
    assert (document["copies_released"], document["copies_not_reached"]) == (4, 2)
    assert document["info"]["policy"] == "replicas=3" and document["info"]["ec"] is None
    assert document["info"]["version"].endswith("+r1")


@pytest.mark.parametrize("args,exit_code,fragment", [
    (("convert", "photos/k"), 2, "give the target policy: --ec K+M or --replicas N"),
    (("convert", "photos", "--ec", "4+2"), 2, "expected BUCKET/KEY, got 'photos'"),
    (("convert", "photos/missing", "--ec", "4+2"), 3, "object photos/missing not found"),
])
def test_convert_errors(run, args: tuple[str, ...], exit_code: int, fragment: str) -> None:
    """convert needs a policy and an existing BUCKET/KEY; each failure is one line."""
    run("mb", "photos")
    _assert_one_line_error(run(*args), exit_code, fragment)


def test_stat_shows_physical_bytes_and_share_kinds(run, server: FakeServer) -> None:
    """stat prints bytes on disk with the ratio, and each holder as a data or parity share."""
    run("mb", "photos", "--ec", "4+2")
    run("put", "-", "photos/k", input=b"\x05" * 40_000)
    server.node.stat_handoffs = {5: "node-d"}
    lines = run("stat", "photos/k").stdout.splitlines()
    assert "  physical    60000 bytes (58.6 KiB), 1.50x logical" in lines
    assert "  policy      ec=4+2" in lines
    holders = lines[lines.index(next(x for x in lines if x.startswith("  chunk 0"))) + 1:]
    assert holders == [
        "    share 0 (data)    node-a  ALIVE",
        "    share 1 (data)    node-b  ALIVE",
        "    share 2 (data)    node-c  DOWN",
        "    share 3 (data)    node-a  ALIVE",
        "    share 4 (parity)  node-b  ALIVE",
        "    share 5 (parity)  node-c  DOWN   handoff for node-d",
    ]
    document = json.loads(run("stat", "photos/k", "--json").stdout)
    assert document["physical_bytes"] == 60_000 and document["info"]["ec"] == [4, 2]
    assert document["chunks"][0]["holders"][5]["handoff_for_node_id"] == "node-d"
    assert len(document["chunks"][0]["share_blake3_hex"]) == 6


def test_stat_of_a_replicated_object_shows_copies(run) -> None:
    """Under replication each holder is "copy N" and physical is N times the size."""
    run("mb", "photos", "--replicas", "2")
    run("put", "-", "photos/k", input=b"\x06" * 10_000)
    lines = run("stat", "photos/k").stdout.splitlines()
    assert "  physical    20000 bytes (19.5 KiB), 2.00x logical" in lines
    assert lines[-2:] == ["    copy 0  node-a  ALIVE", "    copy 1  node-b  ALIVE"]
