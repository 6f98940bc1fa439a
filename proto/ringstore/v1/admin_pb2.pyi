from ringstore.v1 import common_pb2 as _common_pb2
from ringstore.v1 import membership_pb2 as _membership_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetClusterStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MemberStatus(_message.Message):
    __slots__ = ("member", "ring_share", "state_age_s", "chunks_stored", "bytes_stored")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    RING_SHARE_FIELD_NUMBER: _ClassVar[int]
    STATE_AGE_S_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_STORED_FIELD_NUMBER: _ClassVar[int]
    BYTES_STORED_FIELD_NUMBER: _ClassVar[int]
    member: _membership_pb2.Member
    ring_share: float
    state_age_s: float
    chunks_stored: int
    bytes_stored: int
    def __init__(self, member: _Optional[_Union[_membership_pb2.Member, _Mapping]] = ..., ring_share: _Optional[float] = ..., state_age_s: _Optional[float] = ..., chunks_stored: _Optional[int] = ..., bytes_stored: _Optional[int] = ...) -> None: ...

class GetClusterStatusResponse(_message.Message):
    __slots__ = ("node_id", "members", "health", "default_policy", "metadata_replicas", "repair_debt_chunks", "software_version")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_POLICY_FIELD_NUMBER: _ClassVar[int]
    METADATA_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    REPAIR_DEBT_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    SOFTWARE_VERSION_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    members: _containers.RepeatedCompositeFieldContainer[MemberStatus]
    health: str
    default_policy: _common_pb2.RedundancyPolicy
    metadata_replicas: int
    repair_debt_chunks: int
    software_version: str
    def __init__(self, node_id: _Optional[str] = ..., members: _Optional[_Iterable[_Union[MemberStatus, _Mapping]]] = ..., health: _Optional[str] = ..., default_policy: _Optional[_Union[_common_pb2.RedundancyPolicy, _Mapping]] = ..., metadata_replicas: _Optional[int] = ..., repair_debt_chunks: _Optional[int] = ..., software_version: _Optional[str] = ...) -> None: ...

class GetRingRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RingToken(_message.Message):
    __slots__ = ("token", "node_id")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    token: int
    node_id: str
    def __init__(self, token: _Optional[int] = ..., node_id: _Optional[str] = ...) -> None: ...

class GetRingResponse(_message.Message):
    __slots__ = ("tokens", "ownership")
    class OwnershipEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    OWNERSHIP_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[RingToken]
    ownership: _containers.ScalarMap[str, float]
    def __init__(self, tokens: _Optional[_Iterable[_Union[RingToken, _Mapping]]] = ..., ownership: _Optional[_Mapping[str, float]] = ...) -> None: ...
