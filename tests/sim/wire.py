"""Payload bytes of the membership messages the simulation sends, as protobuf would serialize them.

Design. The idle-traffic figure is bytes per node per second of serialized membership messages,
requests and replies, which is what `ringstore_gossip_bytes_total` counts in the daemon (without
gRPC framing and the HMAC metadata). Serializing every message would make a full-table sync at
N = 1000 cost a thousand `to_proto()` calls, so a record's size is computed once per record value
and a message's size is added up from protobuf's encoding rules: a field of a message type costs its
tag (one byte for field numbers up to 15), the varint of its length, and its bytes. A digest is a packed
list of 8-byte hashes; small messages of other shapes (probes, pings) are built and measured as
they are. test_simulation.py checks every function here against the real `ByteSize()`.

Rejected: counting records times the mean record size (what the figure used to be). It cannot see
a message that carries no records, such as a digest, and it left out each record's tag and length.
"""

from __future__ import annotations

from collections.abc import Sequence

from node.gossip import MemberInfo
from ringstore.v1 import membership_pb2 as m

# Record sizes remembered; cleared when full (a run at N = 1000 sees a few thousand record values).
RECORD_SIZES_MAX = 100_000
_record_sizes: dict[MemberInfo, int] = {}


def varint_bytes(value: int) -> int:
    """Bytes of `value` as a protobuf varint."""
    assert value >= 0, value
    return max(1, (value.bit_length() + 6) // 7)


def record_bytes(info: MemberInfo) -> int:
    """Serialized size of one `Member`."""
    size = _record_sizes.get(info)
    if size is None:
        if len(_record_sizes) >= RECORD_SIZES_MAX:
            _record_sizes.clear()
        size = info.to_proto().ByteSize()
        _record_sizes[info] = size
    return size


def field_bytes(size: int) -> int:
    """A length-delimited field (message, string, packed list) of `size` bytes, field number <= 15."""
    return 1 + varint_bytes(size) + size


def records_bytes(records: Sequence[MemberInfo]) -> int:
    """A `repeated Member` field of these records (field number <= 15)."""
    return sum(field_bytes(record_bytes(r)) for r in records)


def request_bytes(kind: str, sender: MemberInfo | None, records: Sequence[MemberInfo]) -> int:
    """The request of a heartbeat (sender + updates), gossip (updates), sync (members) or join
    (member)."""
    if kind == "heartbeat":
        assert sender is not None
        return field_bytes(record_bytes(sender)) + records_bytes(records)
    if kind in ("gossip", "sync"):
        return records_bytes(records)
    if kind == "join":
        assert sender is not None
        return field_bytes(record_bytes(sender))
    raise AssertionError(f"no request size rule for {kind!r}")


def reply_bytes(kind: str, records: Sequence[MemberInfo]) -> int:
    """The reply of a heartbeat (updates), gossip (empty), sync or join (members; the join's
    previous_generation is 0 in the simulation, so not serialized)."""
    if kind == "gossip":
        return 0
    if kind in ("heartbeat", "sync", "join"):
        return records_bytes(records)
    raise AssertionError(f"no reply size rule for {kind!r}")


def packed_bytes(values_bytes: int) -> int:
    """A packed repeated scalar field holding `values_bytes` of values (nothing when empty)."""
    return field_bytes(values_bytes) if values_bytes else 0


def digest_request_bytes(hashes: Sequence[int]) -> int:
    """A SyncDigestRequest: the bucket hashes, packed fixed64."""
    return packed_bytes(8 * len(hashes))


def digest_reply_bytes(buckets: Sequence[int], records: Sequence[MemberInfo]) -> int:
    """A SyncDigestResponse: the differing buckets (packed varints) and the records in them."""
    return packed_bytes(sum(varint_bytes(b) for b in buckets)) + records_bytes(records)


def indirect_probe_request_bytes(target_node_id: str, target_address: str, timeout_s: float) -> int:
    return m.IndirectProbeRequest(target_node_id=target_node_id, target_address=target_address,
                                  timeout_ms=int(timeout_s * 800)).ByteSize()


def indirect_probe_reply_bytes(reachable: bool) -> int:
    return m.IndirectProbeResponse(reachable=reachable).ByteSize()


def ping_request_bytes(node_id: str) -> int:
    return m.PingRequest(node_id=node_id).ByteSize()


def ping_reply_bytes(record: MemberInfo) -> int:
    return field_bytes(record_bytes(record))
