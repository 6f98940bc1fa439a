"""Fault injection: the faults this node plays at, for cluster-sim's partition and slow-node scenarios.

Design. A `FaultSet` is an immutable value (peer addresses whose calls are dropped, a delay before
every RPC served, a delay before every chunk copy's fsync); `Faults` holds the one in force and
AdminService.SetFaults replaces it whole, by one reference assignment. A reader takes the
reference once and uses that value, so it sees the old set or the new one, never half of each,
and no lock is needed on the paths that consult it on every call. Three hooks read it, each at
the one place every call of its kind passes through: `PeerClient` refuses a call to a dropped
address with UNAVAILABLE before it touches the network, the `DelayInterceptor` (node/api) sleeps
before handing an RPC to its handler, and `NodeStore` waits before fsyncing a chunk copy.

Faults live in memory only: a restarted node starts with none, so a crashed test cannot leave a
node partitioned forever. They are refused unless noded was started with
`--allow-fault-injection` (the daemon checks), since AdminService takes calls without the cluster
secret and anyone who can reach the node could otherwise cut it off.

Rejected alternative: network namespaces or iptables rules per node. They drop packets the way a
real network does, but need root, and a partition by address is all the scenarios need. Dropping
our own outgoing calls (configured on both sides for a symmetric partition) needs neither, and the
gossip code cannot tell it from a lost link: a dropped heartbeat is silence either way.

No imports from other node layers: peers, api, store (through a callable) and the daemon use it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable

# Longest injected delay; a longer one is no longer a slow node but a dead one (kill it instead),
# and it would hold a gRPC worker thread that long per call.
DELAY_MS_MAX = 60_000
# Most peer addresses one node may drop calls to; more than any local cluster has nodes.
DROP_PEER_ADDRESSES_MAX = 1024
# The details of a call refused because its address is dropped.
DROPPED_DETAILS = "dropped by fault injection"


class InvalidFaults(ValueError):
    """A fault set out of its limits; the message says which value and how to fix it."""


@dataclasses.dataclass(frozen=True)
class FaultSet:
    """The faults in force on one node. The empty set (the default) injects nothing."""

    # Calls this node makes to these addresses (host:port) fail at once with UNAVAILABLE.
    drop_peer_addresses: frozenset[str] = frozenset()
    # Every RPC this node serves waits this long before its handler runs.
    delay_rpc_ms: int = 0
    # Every chunk copy this node writes waits this long before its fsync.
    delay_disk_ms: int = 0

    def __post_init__(self) -> None:
        if len(self.drop_peer_addresses) > DROP_PEER_ADDRESSES_MAX:
            raise InvalidFaults(f"{len(self.drop_peer_addresses)} peer addresses to drop, more than "
                                f"{DROP_PEER_ADDRESSES_MAX}; list only the peers to cut off")
        for address in self.drop_peer_addresses:
            host, sep, port = address.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise InvalidFaults(f"peer address {address!r} to drop is not HOST:PORT "
                                    "(use the address the member advertises, e.g. 127.0.0.1:7403)")
        for name in ("delay_rpc_ms", "delay_disk_ms"):
            value = getattr(self, name)
            if not 0 <= value <= DELAY_MS_MAX:
                raise InvalidFaults(f"{name} {value} is outside 0..{DELAY_MS_MAX} ms; "
                                    "a node slower than that is better killed")

    @classmethod
    def of(cls, *, drop_peer_addresses: Iterable[str] = (), delay_rpc_ms: int = 0,
           delay_disk_ms: int = 0) -> "FaultSet":
        return cls(frozenset(drop_peer_addresses), delay_rpc_ms, delay_disk_ms)

    def describe(self) -> str:
        """One line for the log: `drop calls to a, b; delay RPCs 0 ms; delay disk 200 ms` or `none`."""
        if self == FaultSet():
            return "none"
        dropped = ", ".join(sorted(self.drop_peer_addresses)) or "nobody"
        return (f"drop calls to {dropped}; delay RPCs {self.delay_rpc_ms} ms; "
                f"delay disk {self.delay_disk_ms} ms")


class Faults:
    """The `FaultSet` in force, replaced whole by `set`. Thread-safe (see the module docstring).
    `sleep` is injected so tests observe the delays without waiting them out."""

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._sleep = sleep
        self._current = FaultSet()

    def set(self, faults: FaultSet) -> None:
        self._current = faults

    def current(self) -> FaultSet:
        return self._current

    def drops(self, address: str) -> bool:
        """True when calls to `address` are to fail as if the network dropped them."""
        return address in self._current.drop_peer_addresses

    def delay_rpc(self) -> None:
        """Wait the injected RPC delay (the delay interceptor calls this before every handler)."""
        delay_ms = self._current.delay_rpc_ms
        if delay_ms:
            self._sleep(delay_ms / 1000)

    def delay_disk(self) -> None:
        """Wait the injected disk delay (the store calls this before every chunk copy's fsync)."""
        delay_ms = self._current.delay_disk_ms
        if delay_ms:
            self._sleep(delay_ms / 1000)
