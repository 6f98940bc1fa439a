"""Unit tests of node/core_log.py: gRPC core's refused-handshake lines become one clear line each;
everything else passes through as it was written."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import textwrap

import pytest

from node.core_log import translate

WHEN = datetime.datetime(2026, 12, 3, 9, 45, 35, 720159)
CORE = (b"I1203 09:45:35.720159   23250 ssl_transport_security.cc:2563] Handshake failed with error SSL_ERROR_SSL: "
        b"error:100000f7:SSL routines:OPENSSL_internal:%s: Invalid certificate verification context\n")


@pytest.mark.parametrize("needle,reason,says", [
    (b"WRONG_VERSION_NUMBER", "plaintext", "refused a connection that does not speak TLS"),
    (b"PEER_DID_NOT_RETURN_A_CERTIFICATE", "no_client_certificate", "without a client certificate on the peer port"),
    (b"CERTIFICATE_VERIFY_FAILED", "untrusted_certificate", "the cluster CA did not sign"),
    (b"TLSV1_ALERT_UNKNOWN_CA", "peer_refused_certificate", "a peer refused this node's certificate"),
])
def test_a_refused_handshake_becomes_one_line_in_the_nodes_format(needle, reason, says):
    out, got = translate(CORE % needle, "node-1", WHEN)
    text = out.decode()
    assert got == reason
    assert text.startswith("2026-12-03 09:45:35,720 WARNING node=node-1 ringstore.tls: ")
    assert says in text and needle.decode() in text  # the core's reason kept at the end
    assert text.count("\n") == 1 and text.endswith("\n")


@pytest.mark.parametrize("line", [
    b"2026-12-03 09:45:28,997 INFO node=node-1 ringstore.daemon: serving clients\n",
    b"E1203 09:45:35.720159 1 chttp2_server.cc:1] some other core error\n",
    b"I1203 ssl_transport_security.cc:1] Handshake failed with error SSL_ERROR_SYSCALL: something new\n",
    b"\xff\xfe not even text\n",
])
def test_every_other_line_passes_through_untouched(line):
    assert translate(line, "node-1", WHEN) == (line, None)


def test_the_relay_passes_lines_written_to_descriptor_2_in_order_and_drains_at_exit(tmp_path):
    """In a child process: Python's stderr and raw writes to fd 2 (as the core's are) come out on
    the real stderr in order, the handshake line translated and counted, nothing lost at exit."""
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {os.getcwd()!r})
        from node.core_log import CoreLogRelay
        seen = []
        relay = CoreLogRelay(node_id=lambda: "node-7", on_refusal=seen.append)
        relay.start()
        print("python line 1", file=sys.stderr, flush=True)
        os.write(2, {CORE % b"WRONG_VERSION_NUMBER"!r})
        for i in range(2000):
            os.write(2, b"raw line %d\\n" % i)
        print("python line 2", file=sys.stderr)
        relay.stop()
        print("counted", seen, file=sys.stderr)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    lines = done.stderr.decode().splitlines()
    assert lines[0] == "python line 1"
    assert "node=node-7 ringstore.tls: refused a connection that does not speak TLS" in lines[1]
    assert lines[2:2002] == [f"raw line {i}" for i in range(2000)]
    assert lines[2002:] == ["python line 2", "counted ['plaintext']"]


def test_core_lines_below_the_verbosity_asked_for_are_dropped_but_refusals_never(monkeypatch):
    """GRPC_VERBOSITY=ERROR asked: the core runs at INFO (so refused handshakes reach the relay) and
    its other INFO and WARNING lines are dropped as the core would have; Python's lines all pass."""
    from node import core_log
    monkeypatch.setenv("GRPC_VERBOSITY", "ERROR")
    monkeypatch.setattr(core_log, "_shown_rank", 0)
    core_log.prepare_verbosity()
    assert os.environ["GRPC_VERBOSITY"] == "INFO"
    info = b"I1203 09:45:35.720159   23250 chttp2_transport.cc:1] something routine\n"
    error = b"E1203 09:45:35.720159   23250 chttp2_transport.cc:1] something wrong\n"
    ours = b"2026-12-03 09:45:28,997 INFO node=node-1 ringstore.daemon: serving\n"
    assert translate(info, "n", WHEN) == (b"", None)
    assert translate(error, "n", WHEN) == (error, None)
    assert translate(ours, "n", WHEN) == (ours, None)
    assert translate(CORE % b"WRONG_VERSION_NUMBER", "n", WHEN)[1] == "plaintext"
    monkeypatch.setattr(core_log, "_shown_rank", 0)
