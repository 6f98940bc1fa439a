"""Hand-framed data messages: raw payload bytes on the wire without a trip through protobuf.

Every message that carries payload (PutObjectRequest, GetObjectResponse, StoreChunkRequest,
FetchChunkResponse, ReadChunkResponse) has `bytes data` as its field 2, in a `oneof` for the streamed
ones. On the wire such a message is just
the tag byte 0x12, a varint length and the payload, so we write that prefix ourselves and hand the
receiver a memoryview of the payload instead of parsing it. Protobuf would copy the payload once
more on each side (measured 1.3-2.6x slower for 1 MiB frames); this keeps the wire format standard,
so any protobuf client can still talk to a node, while our own two ends skip the copies.

Rejected alternative: identity serializers with the header in gRPC metadata. Faster by one prefix
concatenation, but then the .proto files would no longer describe the bytes on the wire.
"""

from __future__ import annotations

import threading
from typing import Callable, Protocol, TypeVar

DATA_FIELD_NUMBER = 2
# Largest object a PutSmallObject call may carry in its one message; larger ones stream (PutObject).
# Measured against streaming, alternating on one 6-node TLS cluster (replicas=3): 4 KiB puts cost
# 5.6 ms of CPU instead of 7.0 and ran 17-24 % more per second; 64 and 256 KiB the same either way;
# 1 MiB worse in one message (37 against 41-51 puts/s), so the limit stays well below that.
SMALL_PUT_BYTES_MAX = 64 * 1024
# Largest range a GetObject answer carries inside its info message when the client allows it
# (GetObjectRequest.info_may_carry_data): one streamed message instead of two for a small object,
# 0.23 ms less CPU per get over TLS (client and node, 2000 calls). Larger ranges stream as before.
INFO_DATA_BYTES_MAX = 64 * 1024
# The call metadata that carries a direct put's WriteChunkHeader (serialized; binary metadata): the
# WriteChunkRequest message is then the chunk's data alone, the same bytes for every holder.
WRITE_COPY_METADATA = "x-ringstore-copy-bin"
_DATA_TAG = bytes([(DATA_FIELD_NUMBER << 3) | 2])  # field 2, wire type 2 (length-delimited)
HEADER_FIELD_NUMBER = 1
_HEADER_TAG = bytes([(HEADER_FIELD_NUMBER << 3) | 2])  # field 1, wire type 2

Payload = bytes | bytearray | memoryview


class _Message(Protocol):
    def SerializeToString(self) -> bytes: ...


M = TypeVar("M")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_data(payload: Payload) -> bytes:
    """The wire bytes of a message whose oneof holds `data = payload`."""
    return b"".join((_DATA_TAG, _varint(len(payload)), payload))


def encode_data_parts(parts: list[Payload]) -> bytes:
    """`encode_data` of the parts joined, in one copy of them."""
    return b"".join((_DATA_TAG, _varint(sum(len(p) for p in parts)), *parts))


class Framed:
    """A data message made once and sent to any number of holders: a chunk stored as three replicas
    is framed once, not once per holder. Built on first use, in the form each holder is sent:
    `wire`, the data message of a stream, or `with_header(header)`, a whole one-message copy
    (header and data), kept per header, so holders sent the same header share one buffer. A put
    keeps several chunks in flight, so a copy per holder would cost megabytes of every node's RSS."""

    __slots__ = ("_payload", "_wire", "_whole", "_lock")

    def __init__(self, payload: Payload) -> None:
        self._payload = payload
        self._wire: bytes | None = None
        self._whole: dict[bytes, bytes] = {}
        self._lock = threading.Lock()

    @property
    def wire(self) -> bytes:
        with self._lock:
            if self._wire is None:
                self._wire = encode_data(self._payload)
            return self._wire

    def with_header(self, header: _Message) -> bytes:
        """The header-and-data message of this payload under `header` (`encode_header_and_data`)."""
        key = header.SerializeToString()
        with self._lock:
            whole = self._whole.get(key)
            if whole is None:
                whole = self._whole[key] = encode_header_and_data(header, data=self._payload, encoded=key)
            return whole


def framed(data: Payload, frame_size_bytes: int) -> list[Framed]:
    """`data` as wire-ready data messages of at most frame_size_bytes each (one empty one for b"")."""
    view = memoryview(data)
    if not len(view):
        return [Framed(b"")]
    return [Framed(view[start:start + frame_size_bytes]) for start in range(0, len(view), frame_size_bytes)]


def encode(item: _Message | Payload | Framed) -> bytes:
    """Serializer for a stream that mixes messages (headers) and raw payload frames."""
    if isinstance(item, Framed):
        return item.wire
    if isinstance(item, (bytes, bytearray, memoryview)):
        return encode_data(item)
    return item.SerializeToString()


def data_payload(raw: bytes) -> memoryview | None:
    """The payload if `raw` is exactly one data field, else None."""
    field = _length_delimited(memoryview(raw), 0, _DATA_TAG[0])
    if field is None or field[1] != len(raw):
        return None  # not a data field, or more fields follow: let protobuf parse it
    return field[0]


def _length_delimited(raw: memoryview, pos: int, tag: int) -> tuple[memoryview, int] | None:
    """(the field's bytes, the position after them) if a field with `tag` starts at `pos`."""
    if pos >= len(raw) or raw[pos] != tag:
        return None
    length = 0
    shift = 0
    pos += 1
    for _ in range(10):
        if pos >= len(raw):
            return None
        byte = raw[pos]
        length |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            break
        shift += 7
    else:
        return None
    if pos + length > len(raw):
        return None
    return raw[pos:pos + length], pos + length


class HeaderAndData:
    """A message made of `header = 1` and `bytes data = 2` (StoreShareRequest, FetchShareResponse):
    the parsed header and a view of the payload, which is never copied into a protobuf field."""

    __slots__ = ("header", "data")

    def __init__(self, header: object, data: Payload) -> None:
        self.header = header
        self.data = data


def encode_header_and_data(header: _Message, data: Payload = b"", encoded: bytes | None = None) -> bytes:
    """The wire bytes of a header-and-data message, in one copy of the payload. `encoded`: the
    header already serialized."""
    if encoded is None:
        encoded = header.SerializeToString()
    return b"".join((_HEADER_TAG, _varint(len(encoded)), encoded, _DATA_TAG, _varint(len(data)), data))


def serialize_header_and_data(item: HeaderAndData | bytes) -> bytes:
    """Serializer for a header-and-data message, or for one already encoded."""
    if isinstance(item, (bytes, bytearray)):
        return bytes(item)
    return encode_header_and_data(item.header, data=item.data)  # type: ignore[arg-type]


def header_and_data_decoder(message_cls: type, header_cls: type) -> Callable[[bytes], HeaderAndData]:
    """Deserializer of a header-and-data message: the header parsed, the data a memoryview of the
    received bytes. Our own encoder writes the header, then the data; anything else (another
    protobuf encoder's field order, fields it left out) goes through protobuf."""

    def decode(raw: bytes) -> HeaderAndData:
        view = memoryview(raw)
        first = _length_delimited(view, 0, _HEADER_TAG[0])
        second = _length_delimited(view, first[1], _DATA_TAG[0]) if first is not None else None
        if first is not None and second is not None and second[1] == len(view):
            return HeaderAndData(header_cls.FromString(first[0]), second[0])
        message = message_cls.FromString(raw)
        return HeaderAndData(message.header, memoryview(message.data))

    return decode


def data_decoder(message_cls: type) -> Callable[[bytes], memoryview]:
    """Deserializer of a message that is only `bytes data = 2`: a view of the payload."""

    def decode(raw: bytes) -> memoryview:
        payload = data_payload(raw)
        return payload if payload is not None else memoryview(message_cls.FromString(raw).data)

    return decode


def decoder(message_cls: type[M]) -> Callable[[bytes], M | memoryview]:
    """Deserializer that yields a memoryview for data frames and a parsed message otherwise."""

    def decode(raw: bytes) -> M | memoryview:
        payload = data_payload(raw)
        if payload is not None:
            return payload
        message = message_cls.FromString(raw)  # type: ignore[attr-defined]
        if message.WhichOneof("msg") == "data":  # a data frame framed by someone else
            return memoryview(message.data)
        return message

    return decode
