from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MemberState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEMBER_STATE_UNSPECIFIED: _ClassVar[MemberState]
    MEMBER_STATE_ALIVE: _ClassVar[MemberState]
    MEMBER_STATE_DOWN: _ClassVar[MemberState]
    MEMBER_STATE_OUT: _ClassVar[MemberState]
    MEMBER_STATE_LEFT: _ClassVar[MemberState]
    MEMBER_STATE_SUSPECT: _ClassVar[MemberState]
MEMBER_STATE_UNSPECIFIED: MemberState
MEMBER_STATE_ALIVE: MemberState
MEMBER_STATE_DOWN: MemberState
MEMBER_STATE_OUT: MemberState
MEMBER_STATE_LEFT: MemberState
MEMBER_STATE_SUSPECT: MemberState

class Member(_message.Message):
    __slots__ = ("node_id", "address", "zone", "capacity_bytes", "generation", "incarnation", "state", "free_bytes", "metrics_port", "draining", "maintenance_until_unix_ms", "disk_full", "metadata_health", "suspected_by", "store_id", "store_created_at_unix_ms", "tls_not_after_unix_ms", "client_address")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_BYTES_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    METRICS_PORT_FIELD_NUMBER: _ClassVar[int]
    DRAINING_FIELD_NUMBER: _ClassVar[int]
    MAINTENANCE_UNTIL_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    DISK_FULL_FIELD_NUMBER: _ClassVar[int]
    METADATA_HEALTH_FIELD_NUMBER: _ClassVar[int]
    SUSPECTED_BY_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_CREATED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    TLS_NOT_AFTER_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    address: str
    zone: str
    capacity_bytes: int
    generation: int
    incarnation: int
    state: MemberState
    free_bytes: int
    metrics_port: int
    draining: bool
    maintenance_until_unix_ms: int
    disk_full: bool
    metadata_health: str
    suspected_by: str
    store_id: str
    store_created_at_unix_ms: int
    tls_not_after_unix_ms: int
    client_address: str
    def __init__(self, node_id: _Optional[str] = ..., address: _Optional[str] = ..., zone: _Optional[str] = ..., capacity_bytes: _Optional[int] = ..., generation: _Optional[int] = ..., incarnation: _Optional[int] = ..., state: _Optional[_Union[MemberState, str]] = ..., free_bytes: _Optional[int] = ..., metrics_port: _Optional[int] = ..., draining: _Optional[bool] = ..., maintenance_until_unix_ms: _Optional[int] = ..., disk_full: _Optional[bool] = ..., metadata_health: _Optional[str] = ..., suspected_by: _Optional[str] = ..., store_id: _Optional[str] = ..., store_created_at_unix_ms: _Optional[int] = ..., tls_not_after_unix_ms: _Optional[int] = ..., client_address: _Optional[str] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("sender", "updates")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    sender: Member
    updates: _containers.RepeatedCompositeFieldContainer[Member]
    def __init__(self, sender: _Optional[_Union[Member, _Mapping]] = ..., updates: _Optional[_Iterable[_Union[Member, _Mapping]]] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("updates",)
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    updates: _containers.RepeatedCompositeFieldContainer[Member]
    def __init__(self, updates: _Optional[_Iterable[_Union[Member, _Mapping]]] = ...) -> None: ...

class IndirectProbeRequest(_message.Message):
    __slots__ = ("target_node_id", "target_address", "timeout_ms")
    TARGET_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    target_node_id: str
    target_address: str
    timeout_ms: int
    def __init__(self, target_node_id: _Optional[str] = ..., target_address: _Optional[str] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class IndirectProbeResponse(_message.Message):
    __slots__ = ("reachable",)
    REACHABLE_FIELD_NUMBER: _ClassVar[int]
    reachable: bool
    def __init__(self, reachable: _Optional[bool] = ...) -> None: ...

class PingRequest(_message.Message):
    __slots__ = ("node_id",)
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    def __init__(self, node_id: _Optional[str] = ...) -> None: ...

class PingResponse(_message.Message):
    __slots__ = ("member",)
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    member: Member
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ...) -> None: ...

class GossipRequest(_message.Message):
    __slots__ = ("updates",)
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    updates: _containers.RepeatedCompositeFieldContainer[Member]
    def __init__(self, updates: _Optional[_Iterable[_Union[Member, _Mapping]]] = ...) -> None: ...

class GossipResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SyncStateRequest(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[Member]
    def __init__(self, members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ...) -> None: ...

class SyncStateResponse(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[Member]
    def __init__(self, members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ...) -> None: ...

class SyncDigestRequest(_message.Message):
    __slots__ = ("bucket_hashes",)
    BUCKET_HASHES_FIELD_NUMBER: _ClassVar[int]
    bucket_hashes: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, bucket_hashes: _Optional[_Iterable[int]] = ...) -> None: ...

class SyncDigestResponse(_message.Message):
    __slots__ = ("buckets", "members")
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    buckets: _containers.RepeatedScalarFieldContainer[int]
    members: _containers.RepeatedCompositeFieldContainer[Member]
    def __init__(self, buckets: _Optional[_Iterable[int]] = ..., members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ...) -> None: ...

class JoinRequest(_message.Message):
    __slots__ = ("member",)
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    member: Member
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ...) -> None: ...

class JoinResponse(_message.Message):
    __slots__ = ("members", "previous_generation", "previous_state")
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_GENERATION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATE_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[Member]
    previous_generation: int
    previous_state: MemberState
    def __init__(self, members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ..., previous_generation: _Optional[int] = ..., previous_state: _Optional[_Union[MemberState, str]] = ...) -> None: ...
