"""Cluster-secret MAC on peer calls (node/peers/auth.py)."""

import pytest

from node.peers import auth

SECRET = b"s" * 32
METHOD = "/ringstore.v1.PeerService/StoreChunk"


def test_signed_call_verifies():
    """A call signed with the cluster secret passes."""
    md = dict(auth.sign(SECRET, METHOD, "node-a", now_ms=1_000_000))
    assert auth.verify(SECRET, METHOD, md, now_ms=1_000_500) is None


@pytest.mark.parametrize("case,mutate,fragment", [
    ("wrong secret", lambda md: dict(auth.sign(b"x" * 32, METHOD, "node-a", now_ms=1_000_000)), "does not know"),
    ("other method", lambda md: dict(auth.sign(SECRET, "/ringstore.v1.PeerService/FetchChunk", "node-a",
                                               now_ms=1_000_000)), "does not know"),
    ("missing", lambda md: {}, "without cluster-secret"),
    ("stale", lambda md: dict(auth.sign(SECRET, METHOD, "node-a", now_ms=1_000_000 - 301_000)), "s off"),
    ("bad ts", lambda md: {**md, auth.PEER_TS_HEADER: "x"}, "not a number"),
])
def test_bad_or_replayed_signatures_are_refused_with_a_reason(case, mutate, fragment):
    """Wrong secret, a MAC for another method, no MAC, stale timestamps: each refused, reason named."""
    md = mutate(dict(auth.sign(SECRET, METHOD, "node-a", now_ms=1_000_000)))
    reason = auth.verify(SECRET, METHOD, md, now_ms=1_000_000)
    assert reason is not None and fragment in reason, (case, reason)
