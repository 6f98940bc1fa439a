"""One member's record, and which of two records about the same node is newer.

Design. A record is what one node says about one member: who it is (id, address, zone,
capacity), which life of its process it describes (`generation`, the process start time in Unix
ms), which of that life's claims it is (`incarnation`, bumped only by the node itself) and the
state. Records are frozen values, ordered by `supersedes`: a higher generation wins (a restart
beats anything said about the previous process); in one generation a higher incarnation wins (a
refutation beats the accusation it answers); with both equal the state with the higher
precedence wins (ALIVE < SUSPECT < DOWN < OUT < LEFT), so any node may turn a record SUSPECT, DOWN
or OUT without
the node's help, and only the node itself can undo that, by bumping its incarnation. Attribute
changes (free bytes, disk full, draining, maintenance, address) ride on the same rule: the node
bumps its own incarnation to announce them.

This total order is what makes gossip converge: every node applies "keep the greater record",
which is commutative and idempotent, so the order and number of deliveries do not matter.

Rejected: a wall-clock "last updated" stamp per record. It needs synchronized clocks and lets a
node with a fast clock win every disagreement; (generation, incarnation, precedence) needs no
clock agreement except that a restarted process starts later than its previous life.
"""

from __future__ import annotations

import dataclasses
import enum
import re

from ringstore.v1 import membership_pb2

from node.errors import InvalidArgument

# Same rule as NodeConfig's node ids; a record from the network must obey it too.
_NODE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ADDRESS_LENGTH_MAX = 255
ZONE_LENGTH_MAX = 64
# Longest store id accepted (the store makes 32 hex characters; see node/store/identity.py, which
# this layer may not import).
STORE_ID_LENGTH_MAX = 64
_STORE_ID_RE = re.compile(r"^[0-9a-f]{0,64}$")
_UINT64_MAX = 2**64 - 1
_PORT_MAX = 65_535


class InvalidMember(InvalidArgument):
    """A member record from the network (or a caller) is malformed."""


class MemberState(enum.IntEnum):
    """A member's state; values are the wire's `membership_pb2.MemberState` numbers."""

    ALIVE = membership_pb2.MEMBER_STATE_ALIVE
    SUSPECT = membership_pb2.MEMBER_STATE_SUSPECT
    DOWN = membership_pb2.MEMBER_STATE_DOWN
    OUT = membership_pb2.MEMBER_STATE_OUT
    LEFT = membership_pb2.MEMBER_STATE_LEFT

    @property
    def live(self) -> bool:
        """ALIVE or SUSPECT: a member traffic goes to (a suspicion is not acted on)."""
        return self in LIVE_STATES


LIVE_STATES = frozenset({MemberState.ALIVE, MemberState.SUSPECT})

# Which state wins when generation and incarnation are equal. Spelled out rather than taken from
# the enum values so that renumbering the wire enum could never silently change the order.
_PRECEDENCE = {MemberState.ALIVE: 0, MemberState.SUSPECT: 1, MemberState.DOWN: 2, MemberState.OUT: 3,
               MemberState.LEFT: 4}


@dataclasses.dataclass(frozen=True)
class MemberInfo:
    """What one node says about one member at one moment (a value: replace, never mutate)."""

    node_id: str
    address: str
    zone: str
    capacity_bytes: int
    generation: int
    incarnation: int
    state: MemberState
    free_bytes: int = 0
    metrics_port: int = 0
    # Out of the ring while repair moves its data away; LEFT when done (the node sets it).
    draining: bool = False
    # DOWN does not turn OUT before this wall-clock time (Unix ms); 0 = not in maintenance.
    maintenance_until_unix_ms: int = 0
    # Above its full watermark: no new chunk copies are placed on it.
    disk_full: bool = False
    # SUSPECT only: the accuser (whose indirect check failed). Not part of the record order.
    suspected_by: str = ""
    # "" while its metadata answers; "refilling" or "damaged" after damage (see node/store).
    metadata_health: str = ""
    # The node's store (LMDB environment): a new id under the same node id is an empty store
    # ("" from a node that predates store ids), and when it was created (Unix ms; 0 = before ids).
    store_id: str = ""
    store_created_at_unix_ms: int = 0
    # When its TLS certificate expires (Unix ms); 0 under --insecure.
    tls_not_after_unix_ms: int = 0
    # host:port of its client port, where clients read chunk copies with a read grant; "" from a
    # node that predates direct reads.
    client_address: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.node_id, str) or not _NODE_ID_RE.match(self.node_id):
            raise InvalidMember(f"member node id {self.node_id!r} must match "
                                f"[a-z0-9][a-z0-9-]{{0,62}}")
        if not self.address or len(self.address) > ADDRESS_LENGTH_MAX:
            raise InvalidMember(f"member {self.node_id}: address must be 1..{ADDRESS_LENGTH_MAX} "
                                f"characters, got {len(self.address)}")
        if not isinstance(self.client_address, str) or len(self.client_address) > ADDRESS_LENGTH_MAX:
            raise InvalidMember(f"member {self.node_id}: client_address must be 0..{ADDRESS_LENGTH_MAX} "
                                f"characters, got {len(self.client_address)}")
        if len(self.zone) > ZONE_LENGTH_MAX:
            raise InvalidMember(f"member {self.node_id}: zone must be at most {ZONE_LENGTH_MAX} "
                                f"characters, got {len(self.zone)}")
        if not isinstance(self.store_id, str) or not _STORE_ID_RE.match(self.store_id):
            raise InvalidMember(f"member {self.node_id}: store_id must be 0..{STORE_ID_LENGTH_MAX} "
                                f"lowercase hex characters, got {self.store_id!r}")
        for name in ("capacity_bytes", "generation", "incarnation", "free_bytes",
                     "maintenance_until_unix_ms", "store_created_at_unix_ms", "tls_not_after_unix_ms"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= _UINT64_MAX:
                raise InvalidMember(f"member {self.node_id}: {name} must be in 0..2^64-1, "
                                    f"got {value!r}")
        if not isinstance(self.metrics_port, int) or not 0 <= self.metrics_port <= _PORT_MAX:
            raise InvalidMember(f"member {self.node_id}: metrics_port must be in 0..65535, "
                                f"got {self.metrics_port!r}")
        try:
            state = MemberState(self.state)
        except ValueError:
            raise InvalidMember(f"member {self.node_id}: state {self.state!r} is not one of "
                                f"ALIVE, SUSPECT, DOWN, OUT, LEFT") from None
        object.__setattr__(self, "state", state)
        if self.suspected_by and (state != MemberState.SUSPECT or not _NODE_ID_RE.match(self.suspected_by)):
            raise InvalidMember(f"member {self.node_id}: suspected_by {self.suspected_by!r} is only for a "
                                f"SUSPECT record and must be a node id")

    def to_proto(self) -> membership_pb2.Member:
        return membership_pb2.Member(
            node_id=self.node_id,
            address=self.address,
            zone=self.zone,
            capacity_bytes=self.capacity_bytes,
            generation=self.generation,
            incarnation=self.incarnation,
            state=int(self.state),
            free_bytes=self.free_bytes,
            metrics_port=self.metrics_port,
            draining=self.draining,
            maintenance_until_unix_ms=self.maintenance_until_unix_ms,
            disk_full=self.disk_full,
            suspected_by=self.suspected_by,
            metadata_health=self.metadata_health,
            store_id=self.store_id,
            store_created_at_unix_ms=self.store_created_at_unix_ms,
            tls_not_after_unix_ms=self.tls_not_after_unix_ms,
            client_address=self.client_address,
        )

    @classmethod
    def from_proto(cls, message: membership_pb2.Member) -> "MemberInfo":
        """Read a record from the wire; raises InvalidMember when it is malformed."""
        return cls(
            node_id=message.node_id,
            address=message.address,
            zone=message.zone,
            capacity_bytes=message.capacity_bytes,
            generation=message.generation,
            incarnation=message.incarnation,
            state=message.state,
            free_bytes=message.free_bytes,
            metrics_port=message.metrics_port,
            draining=message.draining,
            maintenance_until_unix_ms=message.maintenance_until_unix_ms,
            disk_full=message.disk_full,
            suspected_by=message.suspected_by,
            metadata_health=message.metadata_health,
            store_id=message.store_id,
            store_created_at_unix_ms=message.store_created_at_unix_ms,
            tls_not_after_unix_ms=message.tls_not_after_unix_ms,
            client_address=message.client_address,
        )

    def version(self) -> tuple[int, int, int]:
        """The key `supersedes` orders by: (generation, incarnation, state precedence)."""
        return (self.generation, self.incarnation, _PRECEDENCE[self.state])


def supersedes(new: MemberInfo, old: MemberInfo) -> bool:
    """True when `new` should replace `old` (two records about the same node).

    Higher generation wins; then higher incarnation; then higher state precedence
    (ALIVE < SUSPECT < DOWN < OUT < LEFT). Equal versions never supersede, so re-delivery is a no-op.
    """
    assert new.node_id == old.node_id, f"comparing records of {new.node_id} and {old.node_id}"
    return new.version() > old.version()
