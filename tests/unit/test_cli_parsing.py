"""nodectl's command line: argument parsing, formatting, and the commands end to end.

The parsing and formatting helpers are pure and table-driven. The commands run through click's
CliRunner against `nodectl_fakes.FakeServer` (a real grpc.server on a free loopback port), and
the tests check what a script sees: exit codes, one-line errors on stderr, and stdout.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import click
import grpc
import pytest
from click.testing import CliRunner, Result

from nodectl import cli, errors
from nodectl.client import ClusterStatus, Handover, MemberStatus, NodeHandover
from nodectl_fakes import FakeServer

# ---------------------------------------------------------------------------------------------
# Pure parsing
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,parsed", [
    ("photos/a.jpg", ("photos", "a.jpg")),
    ("photos/dir/sub/a.jpg", ("photos", "dir/sub/a.jpg")),
    ("photos//a", ("photos", "/a")),
    ("photos/é", ("photos", "é")),
])
def test_bucket_key_parsing(text: str, parsed: tuple[str, str]) -> None:
    """BUCKET/KEY splits at the first slash; the key keeps any further slashes."""
    assert cli.split_bucket_key(text) == parsed


@pytest.mark.parametrize("text,message", [
    ("photos", "expected BUCKET/KEY, got 'photos'"),
    ("photos/", "key must not be empty"),
    ("Photos/a", "bucket name 'Photos' is invalid"),
    ("/a", "bucket name '' is invalid"),
    ("photos/a\x00b", "key contains NUL at UTF-8 byte 1"),
])
def test_bad_bucket_key_messages(text: str, message: str) -> None:
    """A malformed BUCKET/KEY is InvalidArgument with a message that names the problem."""
    with pytest.raises(errors.InvalidArgument) as caught:
        cli.split_bucket_key(text)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("text,parsed", [
    ("photos", ("photos", "")), ("photos/", ("photos", "")), ("photos/2024/", ("photos", "2024/")),
])
def test_bucket_prefix_parsing(text: str, parsed: tuple[str, str]) -> None:
    """ls takes BUCKET or BUCKET/PREFIX."""
    assert cli.split_bucket_prefix(text) == parsed


def test_bucket_key_with_optional_key() -> None:
    """put's target may leave the key out (it is filled in from the file name)."""
    assert cli.split_bucket_key("photos", key_required=False) == ("photos", "")
    assert cli.split_bucket_key("photos/dir/", key_required=False) == ("photos", "dir/")


@pytest.mark.parametrize("text,parsed", [
    ("0-0", (0, 1)), ("0-99", (0, 100)), ("100-199", (100, 100)), ("5-", (5, None)),
    ("0-", (0, None)),
])
def test_range_parsing(text: str, parsed: tuple[int, int | None]) -> None:
    """--range START-END is inclusive of END; START- reads to the end."""
    assert cli.parse_range(text) == parsed


@pytest.mark.parametrize("text,message", [
    ("", "is not START-END"), ("5", "is not START-END"), ("-5", "is not START-END"),
    ("a-b", "is not START-END"), ("1-2-3", "is not START-END"), (" 1-2", "is not START-END"),
    ("10-5", "ends before it starts"),
])
def test_bad_ranges(text: str, message: str) -> None:
    """A malformed range is InvalidArgument (exit 2) naming the form expected."""
    with pytest.raises(errors.InvalidArgument, match=message) as caught:
        cli.parse_range(text)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("flag,env,expected", [
    ("127.0.0.1:1", {"RINGSTORE_ADDR": "127.0.0.1:2"}, "127.0.0.1:1"),
    (None, {"RINGSTORE_ADDR": "127.0.0.1:2"}, "127.0.0.1:2"),
    (None, {"RINGSTORE_ADDR": " 127.0.0.1:2 "}, "127.0.0.1:2"),
    (None, {}, None),
    (None, {"RINGSTORE_ADDR": ""}, None),
])
def test_address_resolution(flag: str | None, env: dict[str, str], expected: str | None) -> None:
    """--addr wins over RINGSTORE_ADDR; with neither, a usage error names both."""
    if expected is not None:
        assert cli.resolve_address(flag, env) == expected
        return
    with pytest.raises(click.UsageError) as caught:
        cli.resolve_address(flag, env)
    assert "--addr" in caught.value.message and "RINGSTORE_ADDR" in caught.value.message


# ---------------------------------------------------------------------------------------------
# Pure formatting
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("unix_ms,text", [
    (0, "-"), (1_700_000_000_000, "2023-11-14T22:13:20Z"), (1_700_000_000_999, "2023-11-14T22:13:20Z"),
])
def test_iso_utc(unix_ms: int, text: str) -> None:
    """Times print as UTC ISO 8601 to the second; 0 (unknown) prints as '-'."""
    assert cli.iso_utc(unix_ms) == text


def test_table_columns_align() -> None:
    """Tables are left-aligned with two spaces between columns and no trailing blanks."""
    assert cli.format_table(("NAME", "N"), [("a", "1"), ("long-name", "22")]) == [
        "NAME       N", "a          1", "long-name  22"]


def _member(node_id: str, state: str, share: float) -> MemberStatus:
    return MemberStatus(node_id=node_id, address=f"127.0.0.1:740{node_id[-1]}", zone="", state=state,
                        generation=5, incarnation=0, ring_share=share, state_age_s=1.0,
                        free_bytes=0, capacity_bytes=0, metrics_port=0, chunks_stored=0,
                        bytes_stored=0)


def test_status_report_lists_members_then_summary() -> None:
    """status prints NODE STATE GEN ADDRESS ZONE RING%, then health, members by state, debt."""
    status = ClusterStatus(
        node_id="n1", health="degraded",
        members=[_member("n1", "ALIVE", 0.5), _member("n2", "DOWN", 0.25),
                 _member("n3", "ALIVE", 0.25)],
        default_replicas=3, metadata_replicas=3, repair_debt_chunks=12, software_version="0.1.0")
    assert cli.format_status(status, now_unix_ms=0) == [
        "NODE  STATE  GEN  ADDRESS         ZONE  RING%",
        "n1    ALIVE  5    127.0.0.1:7401  -     50.0",
        "n2    DOWN   5    127.0.0.1:7402  -     25.0",
        "n3    ALIVE  5    127.0.0.1:7403  -     25.0",
        "",
        "health: degraded (as seen by n1, software 0.1.0)",
        "members: 2 ALIVE, 1 DOWN",
        "repair debt: 12 chunks",
    ]


def _handover(node_id: str, ring: int, *, synced: int | None = None, pending: int = 0, waiting: int = 0,
              metadata_ok: bool = True) -> NodeHandover:
    return NodeHandover(node_id=node_id, ring_fingerprint=ring, current_ring_fingerprint=ring,
                        synced_ring_fingerprint=ring if synced is None else synced, partitions_held=4,
                        partitions_pending=pending, partitions_waiting=waiting, last_pass_unix_ms=1,
                        metadata_ok=metadata_ok)


def test_handover_line_says_done_or_who_has_what_left() -> None:
    """Done only when every member answered, all use one ring and each synced under it; otherwise
    each member that is not, with why."""
    done = Handover(nodes=[_handover("n1", 0xAB), _handover("n2", 0xAB)], unreachable=[])
    assert cli.handover_line(done) == "metadata handover: done (ring 00000000000000ab, 2 live members)"
    assert done.done
    mixed = Handover(nodes=[_handover("n1", 0xAB), _handover("n2", 0xAB, synced=0, pending=3),
                            _handover("n3", 0xAB, synced=0, waiting=1), _handover("n4", 0xCD),
                            _handover("n5", 0xAB, synced=0, metadata_ok=False),
                            _handover("n6", 0xAB, synced=0)],
                     unreachable=["n7: UNAVAILABLE connection refused"])
    assert not mixed.done
    assert cli.handover_line(mixed) == (
        "metadata handover: in progress on ring 00000000000000ab: n2 3 partitions pending; n3 1 partition waiting "
        "for a home that is not live; n4 on ring 00000000000000cd; n5 refilling its metadata; n6 not yet "
        "passed on this ring; n7 did not answer")
    assert not Handover(nodes=[_handover("n1", 0xAB)], unreachable=["n2: DEADLINE_EXCEEDED"]).done
    assert cli.handover_line("UNIMPLEMENTED: unknown method") == (
        "metadata handover: unknown (UNIMPLEMENTED: unknown method)")


def test_progress_line_draws_at_most_every_tenth_of_a_second() -> None:
    """The progress renderer redraws with \\r, throttled, and ends its line when finished."""
    now = [0.0]
    out = io.StringIO()
    progress = cli.Progress(label="put b/k", total_bytes=10 * 1024 * 1024, stream=out,
                            enabled=True, monotonic_s=lambda: now[0])
    now[0] = 1.0
    progress.update(5 * 1024 * 1024)
    now[0] = 1.05
    progress.update(6 * 1024 * 1024)  # too soon: not drawn
    now[0] = 2.0
    progress.finish()
    assert out.getvalue() == (
        "\rput b/k  5.0 MiB / 10.0 MiB   50%  5.2 MB/s"
        "\rput b/k  6.0 MiB / 10.0 MiB   60%  3.1 MB/s\n")


def test_disabled_progress_writes_nothing() -> None:
    """Without a terminal (or below 4 MiB) the renderer is silent."""
    out = io.StringIO()
    progress = cli.Progress(label="x", total_bytes=None, stream=out, enabled=False)
    progress.update(100)
    progress.finish()
    assert out.getvalue() == ""


# ---------------------------------------------------------------------------------------------
# Commands against a real in-process server
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def run(server: FakeServer):
    runner = CliRunner()

    def invoke(*args: str, input: bytes | None = None, env: dict | None = None) -> Result:
        environment = {"RINGSTORE_ADDR": server.address}
        environment.update(env or {})
        return runner.invoke(cli.main, ["--retries-max", "0", *args], input=input,
                             env=environment)

    return invoke


def _assert_one_line_error(result: Result, exit_code: int, fragment: str) -> None:
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("nodectl: error: ")
    assert fragment in result.stderr
    assert "Traceback" not in result.output


def test_missing_address_is_a_usage_error_naming_both(run) -> None:
    """With neither --addr nor RINGSTORE_ADDR, exit 2 and a line naming both."""
    result = run("ls", env={"RINGSTORE_ADDR": None})
    _assert_one_line_error(result, 2, "pass --addr HOST:PORT or set RINGSTORE_ADDR")


def test_addr_flag_wins_over_environment(server: FakeServer) -> None:
    """--addr is used even when RINGSTORE_ADDR points elsewhere."""
    result = CliRunner().invoke(cli.main, ["--addr", server.address, "ls"],
                                env={"RINGSTORE_ADDR": "127.0.0.1:1"})
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "NAME  POLICY\n"


def test_bucket_commands(run, server: FakeServer) -> None:
    """mb, ls and rb create, list and remove buckets, with their replicas."""
    assert run("mb", "photos", "--replicas", "2").stdout == "created bucket photos (replicas=2)\n"
    assert run("mb", "logs").exit_code == 0
    assert run("ls").stdout == "NAME    POLICY\nlogs    replicas=3\nphotos  replicas=2\n"
    listing = json.loads(run("ls", "--json").stdout)
    assert [b["name"] for b in listing["buckets"]] == ["logs", "photos"]
    assert run("rb", "logs").stdout == "removed bucket logs\n"
    _assert_one_line_error(run("mb", "photos"), 6, "bucket 'photos' already exists")


def test_put_get_stat_ls_rm_round_trip(run, tmp_path: Path) -> None:
    """A file put with the CLI comes back byte for byte; stat, ls and rm see it."""
    run("mb", "photos")
    source = tmp_path / "cat.jpg"
    data = os.urandom(150_000)
    source.write_bytes(data)
    put = run("put", str(source), "photos/2024/")
    assert put.exit_code == 0, put.stderr
    assert put.stdout.startswith("stored photos/2024/cat.jpg: 150000 bytes, blake3 ")

    target = tmp_path / "out.jpg"
    got = run("get", "photos/2024/cat.jpg", str(target))
    assert got.exit_code == 0, got.stderr
    assert target.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cat.jpg", "out.jpg"]  # no temp left

    into_dir = tmp_path / "dir"
    into_dir.mkdir()
    assert run("get", "photos/2024/cat.jpg", str(into_dir)).exit_code == 0
    assert (into_dir / "cat.jpg").read_bytes() == data

    ranged = run("get", "photos/2024/cat.jpg", "-", "--range", "10-19")
    assert ranged.stdout_bytes == data[10:20]

    stat = json.loads(run("stat", "photos/2024/cat.jpg", "--json").stdout)
    assert stat["info"]["size_bytes"] == 150000 and stat["info"]["content_type"] == "image/jpeg"
    human = run("stat", "photos/2024/cat.jpg").stdout
    assert "policy      replicas=3" in human and "    copy 2  node-c  DOWN\n" in human

    lines = run("ls", "photos/2024").stdout.splitlines()
    assert lines[0].split() == ["SIZE", "MODIFIED", "KEY"]
    assert lines[1].split()[0] == "150000" and lines[1].endswith("  2024/cat.jpg")
    assert lines[1].split()[1].endswith("Z")
    objects = json.loads(run("ls", "photos", "--json", "--page-size", "1").stdout)["objects"]
    assert [o["key"] for o in objects] == ["2024/cat.jpg"]

    assert run("rm", "photos/2024/cat.jpg").stdout == "deleted photos/2024/cat.jpg\n"
    _assert_one_line_error(run("stat", "photos/2024/cat.jpg"), 3,
                           "object photos/2024/cat.jpg not found")


def test_put_from_stdin(run, server: FakeServer) -> None:
    """put - reads stdin to the end and stores it under the given key."""
    run("mb", "photos")
    result = run("put", "-", "photos/piped.txt", "--content-type", "text/plain",
                 input=b"hello from a pipe")
    assert result.exit_code == 0, result.stderr
    info, data = server.node.objects[("photos", "piped.txt")]
    assert data == b"hello from a pipe" and info.content_type == "text/plain"


@pytest.mark.parametrize("args,exit_code,fragment", [
    (("get", "photos/missing", "-"), 3, "object photos/missing not found"),
    (("get", "nobucket/k", "-"), 3, "bucket 'nobucket' not found"),
    (("ls", "nobucket"), 3, "bucket 'nobucket' not found"),
    (("get", "photos/a", "-", "--range", "100-200"), 7, "past the end"),
    (("get", "photos/a", "-", "--range", "9-1"), 2, "ends before it starts"),
    (("get", "photos", "-"), 2, "expected BUCKET/KEY, got 'photos'"),
    (("mb", "No_Good"), 2, "bucket name 'No_Good' is invalid"),
    (("rb", "photos"), 6, "bucket 'photos' is not empty: 1 objects"),
    (("put", "/nonexistent/file", "photos/k"), 1, "No such file or directory"),
    (("put", "-", "photos/"), 2, "stdin needs a full BUCKET/KEY"),
    (("ls", "--page-size", "0", "photos"), 2, "--page-size"),
    (("frobnicate",), 2, "No such command 'frobnicate'"),
    (("--addr", "nowhere", "ls"), 2, "address 'nowhere' is not HOST:PORT"),
])
def test_errors_are_one_line_with_their_exit_code(run, args: tuple[str, ...], exit_code: int,
                                                  fragment: str) -> None:
    """User mistakes and cluster errors print one `nodectl: error:` line and exit per class."""
    run("mb", "photos")
    run("put", "-", "photos/a", input=b"12345")
    _assert_one_line_error(run(*args), exit_code, fragment)


@pytest.mark.parametrize("code,exit_code", [
    (grpc.StatusCode.UNAVAILABLE, 4), (grpc.StatusCode.DEADLINE_EXCEEDED, 4),
    (grpc.StatusCode.DATA_LOSS, 5), (grpc.StatusCode.RESOURCE_EXHAUSTED, 8),
    (grpc.StatusCode.PERMISSION_DENIED, 11), (grpc.StatusCode.INTERNAL, 1),
])
def test_server_status_becomes_exit_code(run, server: FakeServer, code: grpc.StatusCode,
                                         exit_code: int) -> None:
    """A status from the node is shown with its message and sets the exit code of its class."""
    server.node.fail_next("GetClusterStatus", code, "write quorum not met: 1 of 3 acks")
    _assert_one_line_error(run("status"), exit_code, "write quorum not met: 1 of 3 acks")


def test_failed_get_leaves_no_file(run, server: FakeServer, tmp_path: Path) -> None:
    """A get that fails mid-way leaves neither the destination nor a temp file behind."""
    run("mb", "photos")
    run("put", "-", "photos/a", input=b"A" * 200_000)
    info, _ = server.node.objects[("photos", "a")]
    server.node.objects[("photos", "a")] = (info, b"B" * 200_000)  # corrupt: blake3 mismatch
    target = tmp_path / "a.out"
    _assert_one_line_error(run("get", "photos/a", str(target)), 5, "blake3")
    assert list(tmp_path.iterdir()) == []


def test_status_table_and_json(run) -> None:
    """status prints the member table and summary, or one JSON document with --json."""
    human = run("status")
    assert human.exit_code == 0
    lines = human.stdout.splitlines()
    assert lines[0].split() == ["NODE", "STATE", "GEN", "ADDRESS", "ZONE", "RING%"]
    assert "members: 2 ALIVE, 1 DOWN" in lines and "repair debt: 5 chunks" in lines
    # This fake node is of a release without GetHandover: the line says so, and status still works.
    handover = [line for line in lines if line.startswith("metadata handover: ")]
    assert handover == ["metadata handover: unknown (the node that answered is of a release that does not report "
                        "it)"], lines
    document = json.loads(run("status", "--json").stdout)
    assert document["health"] == "degraded"
    assert [m["state"] for m in document["members"]] == ["ALIVE", "ALIVE", "DOWN"]
    assert "does not report it" in document["metadata_handover"]["error"]


def test_help_lists_exit_codes(run) -> None:
    """`nodectl --help` documents the exit codes and needs no address."""
    result = CliRunner().invoke(cli.main, ["--help"], env={"RINGSTORE_ADDR": None})
    assert result.exit_code == 0
    assert "Exit codes:" in result.stdout and "3 not" in result.stdout


@pytest.mark.parametrize("args", [(), ("repair",), ("node",)])
def test_no_command_prints_the_usage_not_an_error_line(args: tuple[str, ...]) -> None:
    """`nodectl` (or a command group) with nothing after it prints click's multi-line usage and
    help on stderr and exits 2, as click does; it is not squashed into one `error:` line."""
    result = CliRunner().invoke(cli.main, list(args))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Usage: "), result.stderr
    assert "nodectl: error" not in result.stderr
    assert "\nCommands:\n" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args,call", [
    (("ls",), "ListBuckets"),
    (("stat", "photos/a"), "StatObject"),
    (("get", "photos/a", "-"), "get photos/a"),  # seconds measured: under load maybe 0.3
])
def test_a_deadline_names_the_call_and_the_seconds(run, server: FakeServer, args, call) -> None:
    """A node that does not answer within --timeout-s gives one line naming the call, the seconds
    it had and --timeout-s, exit 4 (deadline exceeded), not gRPC's bare 'Deadline Exceeded'."""
    run("mb", "photos")
    assert run("put", "-", "photos/a", input=b"abc").exit_code == 0
    for method in ("ListBuckets", "StatObject", "OpenObject", "GetObject"):
        server.node.stall_s[method] = 5.0
    result = run("--timeout-s", "0.2", *args)
    _assert_one_line_error(result, 4, f"{call} timed out after {'' if ' ' in call else '0.2 s'}")
    assert "raise --timeout-s" in result.stderr


@pytest.mark.parametrize("byte_range", ["0-0", "0-", "5-9", ""])
def test_any_range_of_an_empty_object_is_out_of_range(run, byte_range: str) -> None:
    """A 0-byte object has no byte to start a range at: every --range is OUT_OF_RANGE (exit 7),
    an empty --range is a usage error, and a get without --range reads the empty object."""
    run("mb", "photos")
    assert run("put", "-", "photos/empty", input=b"").exit_code == 0
    result = run("get", "photos/empty", "-", "--range", byte_range)
    if byte_range:
        _assert_one_line_error(result, 7, "past the end")
    else:
        _assert_one_line_error(result, 2, "is not START-END")
    whole = run("get", "photos/empty", "-")
    assert whole.exit_code == 0 and whole.stdout_bytes == b""
