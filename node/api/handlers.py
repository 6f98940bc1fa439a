"""Wrapping a gRPC method handler's behavior, whatever its streaming shape, for server interceptors
that must act inside the call (on the worker thread, with the servicer context) rather than in
`intercept_service`, which runs on the server's one polling thread and sees no context."""

from __future__ import annotations

from collections.abc import Callable

import grpc

Behavior = Callable[[object, grpc.ServicerContext], object]


def wrapped_handler(handler: grpc.RpcMethodHandler, wrap: Callable[[Behavior], Behavior]) -> grpc.RpcMethodHandler:
    """`handler` with its behavior replaced by `wrap(behavior)`; serializers kept."""
    serializers = dict(request_deserializer=handler.request_deserializer,
                       response_serializer=handler.response_serializer)
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(wrap(handler.stream_stream), **serializers)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(wrap(handler.stream_unary), **serializers)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(wrap(handler.unary_stream), **serializers)
    return grpc.unary_unary_rpc_method_handler(wrap(handler.unary_unary), **serializers)
