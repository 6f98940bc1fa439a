"""nodectl against a real 3-node cluster: the commands a user types, their output and exit codes."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from nodectl.cli import main


CLUSTER_NODES = 3


@pytest.fixture(scope="module")
def cluster(module_cluster):
    return module_cluster


def run(cluster, *args, input=None):
    runner = CliRunner()
    return runner.invoke(main, ["--addr", cluster.any_address(), *args], input=input, catch_exceptions=False)


def test_bucket_put_get_ls_stat_rm_round_trip(cluster, tmp_path):
    """The README's quick start works against real nodes and the bytes come back identical."""
    src = tmp_path / "cat.bin"
    src.write_bytes(os.urandom(6 * 1024 * 1024 + 3))
    assert run(cluster, "mb", "photos").exit_code == 0
    result = run(cluster, "put", str(src), "photos/2026/cat.bin")
    assert result.exit_code == 0, result.output
    # Two chunks, written straight to their holders (a direct put): no whole-object blake3 to show,
    # and nothing about chunks sent or reused (that is a put that names stored chunks).
    assert result.output.startswith(f"stored photos/2026/cat.bin: {src.stat().st_size} bytes, etag "), result.output
    assert "sent " not in result.output and "already stored" not in result.output, result.output
    dst = tmp_path / "copy.bin"
    assert run(cluster, "get", "photos/2026/cat.bin", str(dst)).exit_code == 0
    assert dst.read_bytes() == src.read_bytes()
    listing = run(cluster, "ls", "photos/2026/")
    assert listing.exit_code == 0 and "2026/cat.bin" in listing.output
    stat = json.loads(run(cluster, "stat", "photos/2026/cat.bin", "--json").output)
    assert stat["info"]["size_bytes"] == src.stat().st_size
    assert len(stat["chunks"]) == 2 and all(len(c["holders"]) == 3 for c in stat["chunks"])
    assert run(cluster, "rm", "photos/2026/cat.bin").exit_code == 0
    assert run(cluster, "rb", "photos").exit_code == 0


def test_status_lists_members_states_and_ring_shares(cluster):
    """status --json names every member ALIVE with ring shares summing to 1; the table shows health."""
    result = run(cluster, "status", "--json")
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert sorted(m["node_id"] for m in status["members"]) == sorted(cluster.nodes)
    assert all(m["state"] == "ALIVE" for m in status["members"])
    assert abs(sum(m["ring_share"] for m in status["members"]) - 1.0) < 1e-6
    table = run(cluster, "status").output
    assert "healthy" in table and all(node_id in table for node_id in cluster.nodes)


@pytest.mark.parametrize("args,code,fragment", [
    (("get", "nobucket/key", "-"), 3, "does not exist"),
    (("mb", "Bad_Name"), 2, "bucket name"),
    (("put", "-", "clibad/k", "--replicas", "9"), 4, "replicas=9"),
    (("get", "clibad/missing", "-"), 3, "does not exist"),
    (("get", "clibad/small", "-", "--range", "100-200"), 7, "range"),
    (("rb", "clibad"), 6, "not empty"),
    (("mb", "clibad"), 6, "already exists"),
])
def test_errors_are_one_line_with_distinct_exit_codes(cluster, args, code, fragment):
    """User mistakes and cluster refusals print one `nodectl: error:` line and the class's exit code."""
    run(cluster, "mb", "clibad")
    run(cluster, "put", "-", "clibad/small", input=b"tiny")
    result = CliRunner().invoke(main, ["--addr", cluster.any_address(), *args], input=b"data")
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("nodectl: error:") and fragment in lines[0], result.output


def test_unreachable_address_is_unavailable(tmp_path):
    """A node address that does not answer gives exit 4 and a message naming the address."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = CliRunner().invoke(main, ["--addr", f"127.0.0.1:{port}", "--timeout-s", "2", "--retries-max", "0",
                                       "status"])
    assert result.exit_code == 4, result.output
    assert f"127.0.0.1:{port}" in result.output and "Traceback" not in result.output
