"""Reading one node's view of the membership (AdminService.GetClusterStatus).

cluster-sim talks to nodes through the client library `nodectl.client` like any other client, with
the cluster's TLS settings, and normalises the answer to `NodeView`.

Connections are cached per address and dropped after any failure, so a node restarted on the same
port is reached at the next poll instead of waiting out gRPC's reconnect backoff (which grows to
minutes). Rejected alternative: a fresh channel per poll — simple, but it costs a TCP and HTTP/2
handshake on every poll of every node, at 20 polls per second on two shared cores.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Callable

import grpc

from cluster_sim.errors import ClusterError
from nodectl.client import Client
from nodectl.errors import RingstoreError
from ringstore.v1 import membership_pb2

STATUS_TIMEOUT_S = 2.0
_STATE_PREFIX = "MEMBER_STATE_"


class StatusUnavailable(ClusterError):
    """The node did not answer GetClusterStatus."""


@dataclasses.dataclass(frozen=True)
class MemberView:
    """One member as one observer sees it."""

    node_id: str
    address: str
    state: str  # ALIVE, DOWN, OUT, LEFT
    generation: int
    incarnation: int = 0
    draining: bool = False
    maintenance_until_unix_ms: int = 0
    disk_full: bool = False


@dataclasses.dataclass(frozen=True)
class NodeView:
    """One observer's answer."""

    node_id: str
    health: str
    members: Mapping[str, MemberView]

    def states(self) -> dict[str, str]:
        return {node_id: member.state for node_id, member in self.members.items()}


def state_name(state: Any) -> str:
    """MemberState enum value or name ('MEMBER_STATE_DOWN', 'down') -> 'DOWN'."""
    if isinstance(state, int):
        state = membership_pb2.MemberState.Name(state)
    name = str(state).upper()
    return name[len(_STATE_PREFIX):] if name.startswith(_STATE_PREFIX) else name


def view_from_client_status(status: Any) -> NodeView:
    """From nodectl.client's ClusterStatus dataclass."""
    members = {}
    for member in status.members:
        members[member.node_id] = MemberView(
            node_id=member.node_id, address=getattr(member, "address", ""),
            state=state_name(member.state), generation=int(getattr(member, "generation", 0)),
            incarnation=int(getattr(member, "incarnation", 0)), draining=bool(getattr(member, "draining", False)),
            maintenance_until_unix_ms=int(getattr(member, "maintenance_until_unix_ms", 0)),
            disk_full=bool(getattr(member, "disk_full", False)))
    return NodeView(node_id=status.node_id, health=getattr(status, "health", ""), members=members)


class _ClientConnection:
    """GetClusterStatus through nodectl.client."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def read(self) -> NodeView:
        return view_from_client_status(self._client.cluster_status())

    def close(self) -> None:
        self._client.close()


class StatusReader:
    """Reads node views, one cached connection per address."""

    def __init__(self, *, timeout_s: float = STATUS_TIMEOUT_S,
                 client_options: Callable[[], dict[str, Any]] = dict) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self._timeout_s = timeout_s
        # The Client's TLS arguments (ca_file, insecure), asked for at each new connection.
        self._client_options = client_options
        self._connections: dict[str, _ClientConnection] = {}
        self._errors: tuple[type[BaseException], ...] = (grpc.RpcError, RingstoreError)

    def _connect(self, address: str) -> _ClientConnection:
        # No retries: a poll that fails is simply repeated by the caller's deadline loop.
        return _ClientConnection(Client(address=address, timeout_s=self._timeout_s, retries_max=0,
                                        **self._client_options()))

    def read(self, address: str) -> NodeView:
        """The view of the node at `address`; raises StatusUnavailable when it does not answer."""
        if not address:
            raise StatusUnavailable("node has no address yet (node.json not written)")
        connection = self._connections.get(address)
        if connection is None:
            connection = self._connect(address)
            self._connections[address] = connection
        try:
            return connection.read()
        except self._errors as err:
            self._drop(address)
            raise StatusUnavailable(f"{address} did not answer GetClusterStatus: "
                                    f"{_one_line(err)}") from None

    def _drop(self, address: str) -> None:
        connection = self._connections.pop(address, None)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        for address in list(self._connections):
            self._drop(address)


def _one_line(err: BaseException) -> str:
    if isinstance(err, grpc.RpcError) and hasattr(err, "code"):
        try:
            return f"{err.code().name}: {err.details()}".splitlines()[0]
        except Exception:  # noqa: BLE001 - a non-call RpcError has no code()/details()
            pass
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
