"""Peer authentication: every node-to-node call proves knowledge of the cluster secret.

The caller sends three metadata entries: its node id, a timestamp, and
HMAC-SHA256(secret, method + node id + timestamp). The receiver recomputes the MAC and accepts
timestamps within `PEER_AUTH_SKEW_S_MAX`, which bounds replay of a captured header. The MAC covers the
call, not the payload: it keeps nodes without the secret out of the cluster (cannot join, cannot read
or write chunks, cannot gossip), which is what a private cluster network needs; confidentiality and
payload integrity on hostile networks belong to mTLS, which this interceptor leaves room for.

Rejected: a bare shared token in metadata (anyone who sees one call can replay it forever).
"""

from __future__ import annotations

import hashlib
import hmac
import time

PEER_ID_HEADER = "x-ringstore-peer-id"
PEER_TS_HEADER = "x-ringstore-peer-ts-ms"
PEER_MAC_HEADER = "x-ringstore-peer-mac"
# Largest accepted difference between the caller's timestamp and ours.
PEER_AUTH_SKEW_S_MAX = 300.0


def _mac(secret: bytes, method: str, node_id: str, ts_ms: int) -> str:
    message = f"{method}\n{node_id}\n{ts_ms}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign(secret: bytes, method: str, node_id: str, now_ms: int | None = None) -> tuple[tuple[str, str], ...]:
    """Metadata entries that authenticate one call of `method` (full path, e.g. /ringstore.v1.X/Y)."""
    ts_ms = int(time.time() * 1000) if now_ms is None else now_ms
    return (
        (PEER_ID_HEADER, node_id),
        (PEER_TS_HEADER, str(ts_ms)),
        (PEER_MAC_HEADER, _mac(secret, method, node_id, ts_ms)),
    )


def verify(secret: bytes, method: str, metadata: dict[str, str], now_ms: int | None = None) -> str | None:
    """Return None if the call is authentic, else a one-line reason."""
    node_id = metadata.get(PEER_ID_HEADER)
    ts_text = metadata.get(PEER_TS_HEADER)
    mac = metadata.get(PEER_MAC_HEADER)
    if not node_id or not ts_text or not mac:
        return "peer call without cluster-secret authentication"
    try:
        ts_ms = int(ts_text)
    except ValueError:
        return "peer authentication timestamp is not a number"
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now - ts_ms) > PEER_AUTH_SKEW_S_MAX * 1000:
        return f"peer authentication timestamp is {abs(now - ts_ms) / 1000:.0f} s off (limit {PEER_AUTH_SKEW_S_MAX:.0f} s)"
    if not hmac.compare_digest(mac, _mac(secret, method, node_id, ts_ms)):
        return f"peer {node_id!r} does not know the cluster secret"
    return None
