"""Server interceptor: peer and membership calls must carry a valid cluster-secret MAC.

Client-facing services (ObjectService, AdminService, health) pass through for now; client
authentication and tenants arrive in a later issue and plug in here, as a second check keyed on the
method's service, so no servicer has to know about authentication.
"""

from __future__ import annotations

import logging

import grpc

from node.peers import auth

log = logging.getLogger("ringstore.auth")

PEER_SERVICES = ("/ringstore.v1.PeerService/", "/ringstore.v1.MembershipService/")


def _rejecting_handler(handler: grpc.RpcMethodHandler, reason: str) -> grpc.RpcMethodHandler:
    def reject(request, context):
        context.abort(grpc.StatusCode.UNAUTHENTICATED, reason)

    def reject_stream(request, context):
        context.abort(grpc.StatusCode.UNAUTHENTICATED, reason)
        yield  # pragma: no cover - abort raises

    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(reject_stream)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(reject)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(reject_stream)
    return grpc.unary_unary_rpc_method_handler(reject)


class AuthInterceptor(grpc.ServerInterceptor):
    """Rejects unauthenticated peer calls with UNAUTHENTICATED before any handler runs."""

    def __init__(self, secret: bytes, on_reject=None) -> None:
        self._secret = secret
        self._on_reject = on_reject or (lambda method, reason: None)

    def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        handler = continuation(handler_call_details)
        if handler is None or not method.startswith(PEER_SERVICES):
            return handler
        metadata = dict(handler_call_details.invocation_metadata or ())
        reason = auth.verify(self._secret, method, metadata)
        if reason is None:
            return handler
        self._on_reject(method, reason)
        log.warning("rejected %s: %s", method, reason)
        return _rejecting_handler(handler, f"cluster secret check failed: {reason}")
