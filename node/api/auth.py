"""Server interceptor for the peer port: every call must come from a node of this cluster.

The peer port serves mutual TLS under the cluster CA, so gRPC has already refused any connection
without a certificate the CA signed. That is not yet a node: `nodectl tls issue-client` certificates
come from the same CA. Here each call's certificate must name a node (`urn:ringstore:node:<id>`,
the URI SAN gRPC reports as `peer_uri`); anything else is UNAUTHENTICATED before a handler runs.

The check runs inside the handler (the servicer context holds the TLS identity, `intercept_service`
does not see it). It replaced a cluster-secret HMAC over method, node id and timestamp: that MAC did
not cover the payload, so a header seen on the wire could be replayed with any payload for five
minutes, while TLS authenticates every byte of the connection (docs/design.md, "Who may call").
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import grpc

from node.api.handlers import wrapped_handler
from ringstore.tls import NODE_URI_PREFIX

log = logging.getLogger("ringstore.auth")


def caller_node_id(context: grpc.ServicerContext) -> str | None:
    """The node id the caller's certificate names, or None when it names none."""
    for uri in context.auth_context().get("peer_uri", ()):
        text = uri.decode("utf-8", "replace")
        if text.startswith(NODE_URI_PREFIX):
            return text.removeprefix(NODE_URI_PREFIX)
    return None


class PeerIdentityInterceptor(grpc.ServerInterceptor):
    """Refuses, with UNAUTHENTICATED, every call whose TLS certificate names no node."""

    def __init__(self, on_reject: Callable[[str], None] | None = None) -> None:
        self._on_reject = on_reject or (lambda reason: None)

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        on_reject = self._on_reject

        def wrap(behavior):
            def checked(request_or_iterator, context):
                if caller_node_id(context) is None:
                    subject = b",".join(context.auth_context().get("x509_subject", ())).decode("utf-8", "replace")
                    log.warning("refused %s from %s: its certificate (%s) names no node", method, context.peer(),
                                subject or "none")
                    on_reject("not_a_node")
                    context.abort(grpc.StatusCode.UNAUTHENTICATED,
                                  "the peer port takes only node certificates; clients use the client port")
                return behavior(request_or_iterator, context)

            return checked

        return wrapped_handler(handler, wrap)
