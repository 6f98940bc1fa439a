"""How membership messages leave the node: a blocking Transport the driver calls.

Design. The membership code never sees gRPC: `Membership` produces `Outgoing` values and the
driver hands each to a `Transport`, whose calls block for at most `timeout_s` and either return
the peer's answer or raise. The daemon's implementation (gRPC `MembershipService` stubs with the
mutual TLS, written in the wiring layer) lives outside node/gossip; tests use an
in-memory one that calls the peer's `Membership` directly. Two failures are distinguished because
callers act differently on them: `PeerUnreachable` (timeout, refused connection, peer error) is
ordinary and retried or ignored, while `PeerRejected` (a TLS handshake refused a certificate) is a
configuration error that retrying cannot fix, so `join_cluster` stops at once. A third,
`PeerUnimplemented` (a kind of PeerUnreachable), says the peer does not know the call at all: a node
of an older version, which the caller may ask another way (the whole-table sync instead of the
digest).

Rejected: an async (asyncio) transport. It would avoid a thread per in-flight RPC, but the rest
of the daemon is threaded gRPC, a node has a handful of membership RPCs in flight at once, and a
blocking interface is what the simulation and tests can call most simply.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from node.errors import Unauthenticated, Unavailable
from node.gossip.member import MemberInfo


class PeerUnreachable(Unavailable):
    """A peer did not answer in time, refused the connection, or failed the call."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"peer {address} unreachable: {reason}")
        self.address = address
        self.reason = reason


class PeerUnimplemented(PeerUnreachable):
    """The peer does not implement the call (gRPC UNIMPLEMENTED): it runs an older version."""


class JoinUnanswered(PeerUnreachable):
    """No join address answered within the join deadline; `last_reason` is the last failure seen."""

    def __init__(self, addresses: str, deadline_s: float, last_reason: str) -> None:
        super().__init__(addresses, f"no node answered the join within {deadline_s:.2f} s (last: {last_reason})")
        self.last_reason = last_reason


class PeerRejected(Unauthenticated):
    """A peer refused us, or we refused it (a certificate the other side's CA did not sign, or
    expired); retrying will not help."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"peer {address} rejected us: {reason}")
        self.address = address
        self.reason = reason


class Transport(Protocol):
    """Blocking membership RPCs; every call raises PeerUnreachable or PeerRejected on failure."""

    def heartbeat(self, address: str, sender: MemberInfo, updates: Sequence[MemberInfo],
                  timeout_s: float) -> list[MemberInfo]:
        """Send my heartbeat (my record + fresh updates); returns the peer's updates back."""
        ...

    def gossip(self, address: str, updates: Sequence[MemberInfo], timeout_s: float) -> None:
        """Push fresh updates."""
        ...

    def sync(self, address: str, members: Sequence[MemberInfo],
             timeout_s: float) -> list[MemberInfo]:
        """Push my whole table; returns the peer's whole table."""
        ...

    def sync_digest(self, address: str, bucket_hashes: Sequence[int],
                    timeout_s: float) -> tuple[list[int], list[MemberInfo]]:
        """Send my table digest; returns the buckets whose hashes differ at the peer and its
        records in them. Raises PeerUnimplemented when the peer predates digest sync."""
        ...

    def indirect_probe(self, helper_address: str, target_node_id: str, target_address: str,
                       timeout_s: float) -> bool:
        """Ask the helper to ping the target; True when the target answered it. `timeout_s` is
        the whole budget: the helper's own ping must get a shorter deadline."""
        ...

    def ping(self, address: str, node_id: str, timeout_s: float) -> MemberInfo | None:
        """Direct liveness check; the answering node's record, or None when the node at that
        address is not `node_id` (a different node now uses the address)."""
        ...

    def join(self, address: str, me: MemberInfo, timeout_s: float) -> list[MemberInfo]:
        """Join through the node at `address`; returns its whole table, me included."""
        ...
