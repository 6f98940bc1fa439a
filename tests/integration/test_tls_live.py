"""TLS with real noded processes: certificate rotation by SIGHUP, a reload that is refused, and a
plaintext node that tries to join a TLS cluster."""

from __future__ import annotations

import datetime
import os
import socket
import ssl
import subprocess
import sys
import time

from cryptography import x509

from cluster_checks import metric
from nodectl.cli.cluster import format_status
from nodectl.tls import issue_node

DEADLINE_S = 20.0


def _served_serial(address: str, ca_file: str) -> int:
    """The serial number of the certificate a node's client port presents now (a new handshake)."""
    host, port = address.rsplit(":", 1)
    context = ssl.create_default_context(cafile=ca_file)
    context.set_alpn_protocols(["h2"])
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=host) as conn:
            return x509.load_der_x509_certificate(conn.getpeercert(binary_form=True)).serial_number


def _poll(predicate, what: str, deadline_s: float = DEADLINE_S):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {deadline_s:.0f} s waiting for {what}")


def _install(issued, node) -> None:
    os.replace(issued.cert_path, node.tls_cert)
    os.replace(issued.key_path, node.tls_key)


def test_sighup_rotates_a_certificate_without_leaving_and_refuses_a_bad_one(cluster_factory, session_ca, tmp_path):
    """node-2 gets a new (10-day) certificate and SIGHUP: new handshakes see it, it stays ALIVE
    everywhere and serves puts and gets, its metric and `nodectl status` show the new expiry. node-3
    gets an expired certificate and SIGHUP: it keeps the old one, says why, counts the failure, and
    keeps serving."""
    cluster = cluster_factory(nodes=3)
    ca_file = cluster.ca_file
    node2, node3 = cluster.nodes["node-2"], cluster.nodes["node-3"]
    before = _served_serial(node2.address, ca_file)
    fresh = issue_node(session_ca, "node-2", ["127.0.0.1", "localhost"], out_dir=tmp_path / "fresh", days=10)
    fresh_serial = x509.load_pem_x509_certificate(fresh.cert_path.read_bytes()).serial_number
    _install(fresh, node2)
    cluster.kill("node-2", "HUP")
    _poll(lambda: _served_serial(node2.address, ca_file) == fresh_serial, "node-2 to serve its new certificate")
    assert fresh_serial != before
    assert all(cluster.view(observer)["node-2"] == "ALIVE" for observer in cluster.nodes)
    assert int(cluster.member_views("node-1")["node-2"].generation) == node2.generation  # never restarted
    with cluster.client(node2.address) as client:
        client.create_bucket("rotated")
        client.put("rotated", "k", b"after rotation" * 1000)  # node-2 coordinates: new peer channels
    with cluster.client(cluster.nodes["node-1"].address) as client:
        assert client.get_bytes("rotated", "k") == b"after rotation" * 1000
        status = _poll(lambda: (lambda s: s if any(m.node_id == "node-2" and 0 < m.tls_not_after_unix_ms
                                                    < time.time() * 1000 + 11 * 86_400_000 for m in s.members)
                                else None)(client.cluster_status()), "node-1 to learn node-2's new expiry")
    warnings = [line for line in format_status(status, now_unix_ms=int(time.time() * 1000))
                if line.startswith("warning:")]
    assert len(warnings) == 1 and warnings[0].startswith("warning: node-2's TLS certificate expires in 10.0 days")
    expiry = metric(cluster, "node-2", "ringstore_tls_certificate_not_after_seconds")
    assert abs(expiry - (time.time() + 10 * 86400)) < 3600

    before3 = _served_serial(node3.address, ca_file)
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=10)
    expired = issue_node(session_ca, "node-3", ["127.0.0.1"], out_dir=tmp_path / "expired", days=1, now=past)
    _install(expired, node3)
    cluster.kill("node-3", "HUP")
    _poll(lambda: metric(cluster, "node-3", "ringstore_tls_reload_failures_total") == 1,
          "node-3 to count the refused reload")
    log = open(node3.log_path, encoding="utf-8").read()
    assert "SIGHUP: kept the current certificate:" in log and "expired at" in log
    assert _served_serial(node3.address, ca_file) == before3
    assert all(cluster.view(observer)["node-3"] == "ALIVE" for observer in cluster.nodes)


def test_a_plaintext_node_cannot_join_a_tls_cluster_and_says_why(cluster_factory, tmp_path):
    """noded --insecure given a TLS node's peer address stops at once (not after its 30 s join
    deadline) with exit 3 and one line saying the peer serves TLS; nobody lists it."""
    cluster = cluster_factory(nodes=3)
    secret = tmp_path / "secret"
    secret.write_bytes(b"s" * 32)
    secret.chmod(0o600)
    started_s = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "node", "--data-dir", str(tmp_path / "plain"), "--node-id",
                           "plain", "--insecure", "--listen", "127.0.0.1:0", "--peer-listen", "127.0.0.1:0",
                           "--cluster-secret-file", str(secret), "--profile", "local",
                           "--join", cluster.nodes["node-1"].peer_address],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("noded: error:")]
    peer = cluster.nodes["node-1"].peer_address
    assert errors == [f"noded: error: could not join through {peer}: {peer} serves TLS and this node runs "
                      "--insecure: start it with --tls-cert, --tls-key and --tls-ca (a certificate from the "
                      "cluster's CA)"]
    assert time.monotonic() - started_s < 25
    assert all("plain" not in cluster.view(observer) for observer in cluster.nodes)
    # The TLS side says so too, in one line of its own log, and counts it.
    node = cluster.nodes["node-1"]

    def said() -> bool:
        with open(node.log_path, encoding="utf-8", errors="replace") as log:
            return any("ringstore.tls: refused a connection that does not speak TLS: a node or client started "
                       "with --insecure" in line for line in log)
    _poll(said, "node-1's log line about the plaintext peer")
    assert metric(cluster, "node-1", 'ringstore_auth_failures_total{reason="plaintext"}') >= 1
