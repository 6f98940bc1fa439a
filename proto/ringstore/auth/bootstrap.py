"""The one call made before any access key exists: InitCluster, authenticated by the cluster key.

A new cluster has no keys, so its first operator key cannot be asked for with one. Whoever can
read a node's `--cluster-secret-file` (the operator on the hosts, cluster-sim) proves it instead:
the request carries HMAC-SHA256 under a subkey of the cluster key, over the request's time and the
key id it asks for, and a node answers only inside the signature window. The subkey is derived with
HKDF for this purpose alone, so no other use of the cluster key (sealing access-key secrets, signing
share links) can produce or be fooled by an init MAC.

Rejected: letting the first unauthenticated caller initialise the cluster (whoever reaches a new
node's port first would own it), and a token printed in the node's log (logs are read by more people
than should own the cluster).
"""

from __future__ import annotations

import hashlib
import hmac
import time

INIT_INFO = b"ringstore cluster init v1"
INIT_SALT = b"ringstore"
# Largest difference between the request's time and the node's clock.
INIT_WINDOW_S = 300.0


def init_key(cluster_key: bytes) -> bytes:
    """The cluster key's subkey for InitCluster MACs."""
    # Imported here, as in ringstore.auth.keys: every client imports this module, few initialise.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=INIT_SALT, info=INIT_INFO).derive(cluster_key)


def init_mac(cluster_key: bytes, date_ms: int, key_id: str) -> str:
    message = f"RINGSTORE-INIT\n{date_ms}\n{key_id}".encode()
    return hmac.new(init_key(cluster_key), message, hashlib.sha256).hexdigest()


def check_init_mac(cluster_key: bytes, date_ms: int, key_id: str, mac: str, *, now_ms: int | None = None) -> str | None:
    """None when the MAC is right and fresh, else a one-line reason."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    skew_s = abs(now_ms - date_ms) / 1000
    if skew_s > INIT_WINDOW_S:
        return (f"the request was signed {skew_s:.0f} s away from this node's clock (limit {INIT_WINDOW_S:.0f} s); "
                "check the clocks")
    if not hmac.compare_digest(mac, init_mac(cluster_key, date_ms, key_id)):
        return "the request is not signed with this cluster's key: give the cluster's --cluster-secret-file"
    return None
