"""Hand-framed data messages are standard protobuf on the wire (proto/ringstore/frames.py)."""

import pytest

from ringstore import frames
from ringstore.v1 import object_pb2, peer_pb2


@pytest.mark.parametrize("size", [0, 1, 127, 128, 16383, 16384, 1 << 20, (4 << 20) + 1])
def test_data_frames_parse_as_the_oneof_data_field_and_decode_without_protobuf(size):
    """Our framing equals protobuf's encoding, and our decoder returns the raw payload view."""
    payload = bytes(range(256)) * (size // 256) + b"q" * (size % 256)
    raw = frames.encode(payload)
    assert raw == object_pb2.PutObjectRequest(data=payload).SerializeToString()
    decoded = frames.decoder(object_pb2.PutObjectRequest)(raw)
    assert isinstance(decoded, memoryview) and bytes(decoded) == payload


def test_header_messages_pass_through_the_decoder_as_messages():
    """A header (field 1) is parsed as the message, not mistaken for data."""
    header = peer_pb2.StoreChunkRequest(header=peer_pb2.StoreChunkHeader(size_bytes=5))
    decoded = frames.decoder(peer_pb2.StoreChunkRequest)(frames.encode(header))
    assert decoded.header.size_bytes == 5


def test_data_framed_by_a_generic_client_with_extra_fields_still_decodes():
    """A data message built by plain protobuf is accepted even if not byte-identical to ours."""
    raw = object_pb2.GetObjectResponse(data=b"abc").SerializeToString() + b""
    assert bytes(frames.decoder(object_pb2.GetObjectResponse)(raw)) == b"abc"
