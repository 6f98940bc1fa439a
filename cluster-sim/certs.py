"""Certificates for a local cluster: a CA, and one certificate per node naming its id and 127.0.0.1.

`up` makes the CA in `DIR/tls/ca` unless it is given one (a test session shares one CA between its
clusters, so one RINGSTORE_CA serves them all); node certificates go to `DIR/tls/nodes`. Nothing
is overwritten: a node restarted or given a new disk keeps its certificate, and a node added later
gets one on its first start. The CA key stays in the CA directory, as an operator's would stay
off the nodes; here the whole cluster is one user's files on one machine.
"""

from __future__ import annotations

from pathlib import Path

from nodectl import tls

NODE_SANS = ("127.0.0.1", "localhost")


def ensure_ca(ca_dir: Path) -> Path:
    """The CA certificate in `ca_dir`, made there first if it holds none."""
    if not (ca_dir / tls.CA_CERT_FILE).exists():
        tls.init_ca(ca_dir)
    return ca_dir / tls.CA_CERT_FILE


def ensure_node_certificate(ca_dir: Path, out_dir: Path, node_id: str,
                            sans: tuple[str, ...] = NODE_SANS) -> tuple[str, str]:
    """(certificate, key) of `node_id` in `out_dir`, issued from `ca_dir` first if missing."""
    cert, key = out_dir / f"{node_id}.crt", out_dir / f"{node_id}.key"
    if not (cert.exists() and key.exists()):
        tls.issue_node(ca_dir, node_id, list(sans), out_dir=out_dir)
    return str(cert), str(key)
