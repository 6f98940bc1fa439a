"""Copies in one message: StoreShare and FetchShare (node/peers/client.py, node/api/peer_service.py).

The codec's bytes are standard protobuf; PeerClient against a real PeerServicer and store over gRPC
sends a one-frame copy as one unary call, streams larger ones, and falls back to the streams for a
peer of an older release (UNIMPLEMENTED) until that peer is forgotten.
"""

from __future__ import annotations


import blake3
import grpc
import pytest

from node.api.peer_service import PeerServicer
from node.api.status import download_method, upload_method
from node.hlc import HybridLogicalClock
from node.metrics import Metrics
from node.objects.replicas import share_key
from node.peers.client import PEER_SERVICE, PeerClient, PeerError
from node.store import NodeStore
from ringstore import frames
from ringstore.v1 import peer_pb2

FRAME_BYTES = 64 * 1024
NOW_MS = 1_700_000_000_000


def _header(data: bytes) -> peer_pb2.StoreChunkHeader:
    chunk_id = blake3.blake3(data).digest()
    return peer_pb2.StoreChunkHeader(share=peer_pb2.ShareRef(chunk_id=chunk_id), size_bytes=len(data),
                                     blake3=chunk_id)


@pytest.mark.parametrize("size", [0, 1, 300, FRAME_BYTES])
def test_header_and_data_messages_are_protobufs_own_encoding(size):
    """What we send is byte for byte what protobuf makes of the message, and the decoder hands back
    the parsed header and a view of the payload."""
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    header = _header(data)
    ours = frames.encode_header_and_data(header, data=data)
    pinned = frames.Framed(data).with_header(header)
    reference = peer_pb2.StoreShareRequest(header=header, data=data).SerializeToString()
    if size:
        assert ours == pinned == reference
    else:  # protobuf leaves an empty bytes field out; ours writes it, and both parse the same
        assert peer_pb2.StoreShareRequest.FromString(ours) == peer_pb2.StoreShareRequest.FromString(reference)
    decoded = frames.header_and_data_decoder(peer_pb2.StoreShareRequest, peer_pb2.StoreChunkHeader)(ours)
    assert decoded.header == header and isinstance(decoded.data, memoryview) and bytes(decoded.data) == data


def test_a_header_and_data_message_from_another_encoder_still_decodes():
    """Fields in another order (protobuf allows it) or left out go through protobuf's parser."""
    header = _header(b"abc")
    swapped = (peer_pb2.StoreShareRequest(data=b"abc").SerializeToString()
               + peer_pb2.StoreShareRequest(header=header).SerializeToString())
    decode = frames.header_and_data_decoder(peer_pb2.StoreShareRequest, peer_pb2.StoreChunkHeader)
    decoded = decode(swapped)
    assert decoded.header == header and bytes(decoded.data) == b"abc"
    empty = decode(b"")
    assert empty.header == peer_pb2.StoreChunkHeader() and bytes(empty.data) == b""


@pytest.fixture
def peer(tmp_path, serve_grpc):
    """(store, servicer, serve(handlers) -> address, a PeerClient)."""
    store = NodeStore(str(tmp_path / "b"), map_size_bytes=64 * 1024 * 1024)
    servicer = PeerServicer(store, HybridLogicalClock("node-b", lambda: NOW_MS), Metrics(),
                            frame_size_bytes=FRAME_BYTES, chunk_size_bytes=4 * 1024 * 1024, node_id="node-b")
    peers = PeerClient(node_id="node-a", message_bytes_max=8 * 1024 * 1024)
    yield store, servicer, serve_grpc, peers
    peers.close()
    store.close()


def _only(servicer: PeerServicer, *names: str) -> grpc.GenericRpcHandler:
    """The servicer's handlers for `names` alone: a peer that has no others."""
    whole = servicer.handlers()
    return grpc.method_handlers_generic_handler(PEER_SERVICE.strip("/"), {
        name: whole.service(_Details(PEER_SERVICE + name)) for name in names})


class _Details(grpc.HandlerCallDetails):
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


def test_a_one_frame_copy_goes_and_comes_back_in_one_call_each(peer):
    """With only StoreShare and FetchShare served, a one-frame copy is stored, deduplicated on a
    second store, read back byte for byte with the header the holder indexed, and a missing copy is
    NOT_FOUND."""
    store, servicer, serve, peers = peer
    address = serve(_only(servicer, "StoreShare", "FetchShare"))
    data = b"one frame of bytes" * 1000
    header = _header(data)
    assert not peers.store_share(address, header, [data], 10.0).already_present
    assert peers.store_share(address, header, frames.framed(data, FRAME_BYTES), 10.0).already_present
    got, held = peers.fetch_share(address, header.share, 10.0)
    assert got == data and held.size_bytes == len(data) and held.blake3 == header.blake3
    assert address not in peers._streamed
    with pytest.raises(PeerError) as missing:
        peers.fetch_share(address, _header(b"never stored").share, 10.0)
    assert missing.value.code == grpc.StatusCode.NOT_FOUND


def test_a_copy_whose_bytes_do_not_match_its_blake3_is_refused(peer):
    store, servicer, serve, peers = peer
    address = serve(servicer.handlers())
    header = _header(b"the real bytes")
    with pytest.raises(PeerError) as refused:
        peers.store_share(address, header, [b"other bytes!!!"], 10.0)
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert not store.has_share(share_key(header.share))


def test_a_copy_larger_than_one_message_streams_both_ways(peer):
    """Several frames go as a StoreChunk stream; FetchShare refuses a copy over the holder's frame
    size (RESOURCE_EXHAUSTED) and the client reads it with FetchChunk, without marking the peer."""
    store, servicer, serve, peers = peer
    address = serve(servicer.handlers())
    data = bytes(range(256)) * (3 * FRAME_BYTES // 256 + 7)
    header = _header(data)
    assert not peers.store_share(address, header, frames.framed(data, FRAME_BYTES), 10.0).already_present
    got, held = peers.fetch_share(address, header.share, 10.0)
    assert got == data and held.blake3 == header.blake3
    assert address not in peers._streamed


def test_a_peer_without_the_one_message_calls_gets_streams_until_forgotten(peer):
    """A node from before StoreShare and FetchShare answers UNIMPLEMENTED: the copy is streamed, then
    read back by stream, and that peer gets streams until it is forgotten (back ALIVE)."""
    store, servicer, serve, peers = peer
    old = grpc.method_handlers_generic_handler(PEER_SERVICE.strip("/"), {
        "StoreChunk": upload_method(servicer.StoreChunk, peer_pb2.StoreChunkRequest),
        "FetchChunk": download_method(servicer.FetchChunk, peer_pb2.FetchChunkRequest)})
    address = serve(old)
    data = b"stored by an older release" * 100
    header = _header(data)
    assert not peers.store_share(address, header, [data], 10.0).already_present
    assert address in peers._streamed
    got, _ = peers.fetch_share(address, header.share, 10.0)
    assert got == data
    peers.forget(address)
    assert address not in peers._streamed
    got, _ = peers.fetch_share(address, header.share, 10.0)  # asks FetchShare again, falls back again
    assert got == data and address in peers._streamed


def test_holders_sent_the_same_header_share_one_message_buffer():
    """A replicated chunk's one-message copies are built once per distinct header (a handoff holder's
    header differs), each equal to protobuf's encoding; the stream form is built only when asked."""
    data = b"replicated bytes" * 4096
    framed = frames.Framed(data)
    header = _header(data)
    first, second = framed.with_header(header), framed.with_header(peer_pb2.StoreChunkHeader.FromString(
        header.SerializeToString()))
    assert first is second
    assert first == peer_pb2.StoreShareRequest(header=header, data=data).SerializeToString()
    handoff = peer_pb2.StoreChunkHeader(share=header.share, size_bytes=len(data), blake3=header.blake3,
                                        handoff_for_node_id="node-d")
    other = framed.with_header(handoff)
    assert other is not first and other == peer_pb2.StoreShareRequest(header=handoff, data=data).SerializeToString()
    assert framed.wire == peer_pb2.StoreChunkRequest(data=data).SerializeToString()
