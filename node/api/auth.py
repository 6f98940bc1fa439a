"""Server interceptors that decide who may call: on the peer port, nodes of this cluster only
(`PeerIdentityInterceptor`); on the client port, holders of an access key or of a share link
(`RequestAuthInterceptor`).

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

from node import errors
from node.api.handlers import wrapped_handler
from node.api.status import Malformed, status_of
from node.auth.principal import ANONYMOUS, LinkHolder, reset_caller, set_caller
from ringstore.auth import signing
from ringstore.auth.keys import ROLE_OPERATOR
from ringstore.auth.links import HEADER_LINK, LinkError
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


# Served without an access key: health (load balancers, probes), the first init, which proves
# knowledge of the cluster key instead (node/api/init_service.py), and a chunk read, which carries a
# read grant a GetObject answer gave an authorised caller (node/objects/direct.py; checked in the handler),
# and a copy write of a direct put, which carries a write grant a PlanPut answer gave an authorised
# caller (node/objects/direct_put.py; checked in the handler).
OPEN_PREFIXES = ("/grpc.health.v1.Health/",)
OPEN_METHODS = frozenset({"/ringstore.v1.AdminService/InitCluster", "/ringstore.v1.ObjectService/ReadChunk",
                          "/ringstore.v1.ObjectService/WriteChunk"})
# Reads a call with no signature at all may make: it reaches the handler as Anonymous, and only a
# public-read bucket answers it (node/auth/policy.py); anything else is UNAUTHENTICATED there.
ANONYMOUS_METHODS = frozenset({"/ringstore.v1.ObjectService/GetObject", "/ringstore.v1.ObjectService/OpenObject",
                               "/ringstore.v1.ObjectService/StatObject",
                               "/ringstore.v1.ObjectService/ListObjects"})
ADMIN_PREFIX = "/ringstore.v1.AdminService/"
# What a call carrying a share link instead of a signature may be (node/auth/policy.py then keeps it
# to the link's one object and range).
LINK_METHODS = frozenset({"/ringstore.v1.ObjectService/GetObject", "/ringstore.v1.ObjectService/OpenObject",
                          "/ringstore.v1.ObjectService/StatObject"})


class RequestAuthInterceptor(grpc.ServerInterceptor):
    """The client port's check: every ObjectService and AdminService call is signed with an access
    key (ringstore/auth/signing.py) that is active, and AdminService calls need the operator role.

    Failures are UNAUTHENTICATED with a one-line reason (the same one for an unknown key and a wrong
    signature, so nobody can probe which key ids exist) and counted by reason; a valid key without
    the right is PERMISSION_DENIED naming the action. A call whose request did not even parse goes
    through to its handler, which answers INVALID_ARGUMENT without acting on it.

    A call with a share link (`x-ringstore-link`) and no signature is checked by `check_link`
    (node/auth/links.py) instead: a bad, expired or revoked link, or one whose key is gone, is
    UNAUTHENTICATED naming which; a good one reaches GetObject, OpenObject and StatObject only, as a
    `LinkHolder` the handlers keep to its object and range. The token is never logged.
    """

    def __init__(self, lookup: Callable, on_reject: Callable[[str], None] | None = None,
                 wall_ms: Callable[[], int] | None = None, not_initialised: Callable[[], str | None] | None = None,
                 check_link: Callable[[str], LinkHolder] | None = None) -> None:
        self._lookup = lookup
        # check_link(token) -> the link's holder, or LinkError (node/auth/links.py); None: no links.
        self._check_link = check_link
        # Why no key can work yet (a cluster nobody initialised), else None; asked only after a refusal.
        self._not_initialised = not_initialised or (lambda: None)
        self._on_reject = on_reject or (lambda reason: None)
        self._wall_ms = wall_ms

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method in OPEN_METHODS or method.startswith(OPEN_PREFIXES):
            return handler
        streaming_request = handler.request_streaming
        streaming_response = handler.response_streaming

        def wrap(behavior):
            def checked(request_or_iterator, context):
                if not streaming_request and isinstance(request_or_iterator, Malformed):
                    return behavior(request_or_iterator, context)
                tokens = [value for name, value in context.invocation_metadata() if name == HEADER_LINK]
                if tokens and self._check_link is not None:
                    holder = self._link_holder(tokens, method, context)
                    return _with_caller(holder, streaming_response, behavior, request_or_iterator, context)
                resource = "" if streaming_request else signing.resource_of(request_or_iterator)
                now_ms = self._wall_ms() if self._wall_ms else None
                try:
                    verified = signing.verify(dict(context.invocation_metadata()), method, resource, self._lookup,
                                              now_ms=now_ms)
                except signing.AuthError as err:
                    if err.reason == "missing" and method in ANONYMOUS_METHODS and not _any_signature_header(context):
                        return _with_caller(ANONYMOUS, streaming_response, behavior, request_or_iterator, context)
                    self._on_reject(err.reason)
                    why = self._not_initialised() if err.reason in ("missing", "unknown_key") else None
                    context.abort(grpc.StatusCode.UNAUTHENTICATED, why or err.message)
                except errors.Unauthenticated as err:  # the cluster has no keys at all yet
                    self._on_reject("not_initialised")
                    context.abort(grpc.StatusCode.UNAUTHENTICATED, str(err))
                except errors.Unavailable as err:
                    context.abort(grpc.StatusCode.UNAVAILABLE, f"cannot check the access key now: {err}")
                if method.startswith(ADMIN_PREFIX) and verified.role != ROLE_OPERATOR:
                    self._on_reject("not_operator")
                    context.abort(grpc.StatusCode.PERMISSION_DENIED,
                                  f"{method.removeprefix(ADMIN_PREFIX)} needs the operator's key; access key "
                                  f"{verified.key_id} is tenant {verified.tenant}'s")
                return _with_caller(verified.access_key, streaming_response, behavior, request_or_iterator, context)

            return checked

        return wrapped_handler(handler, wrap)

    def _link_holder(self, tokens: list[str], method: str, context) -> LinkHolder:
        """The caller of a call that carries a share link (its token is never logged), or abort."""
        if len(tokens) > 1 or _any_signature_header(context):
            self._on_reject("link_malformed")
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "a call carries one share link and no access key "
                                                           "signature, or a signature and no link")
        try:
            holder = self._check_link(tokens[0])
        except LinkError as err:
            self._on_reject(err.reason)
            context.abort(grpc.StatusCode.UNAUTHENTICATED, err.message)
        except errors.Unavailable as err:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"cannot check the share link now: {err}")
        except errors.Unauthenticated as err:  # the cluster has no keys (nor links) yet
            self._on_reject("not_initialised")
            context.abort(grpc.StatusCode.UNAUTHENTICATED, str(err))
        except errors.RingstoreError as err:  # a record this software did not write: DATA_LOSS
            context.abort(status_of(err) or grpc.StatusCode.INTERNAL, f"cannot check the share link: {err}")
        if method not in LINK_METHODS:
            self._on_reject("link_denied")
            grant = holder.grant
            context.abort(grpc.StatusCode.PERMISSION_DENIED,
                          f"{holder.key_id} may only get and stat {grant.bucket}/{grant.key}: it may not call "
                          f"{method.rsplit('/', 1)[-1]}")
        return holder


def _any_signature_header(context) -> bool:
    return any(name in signing.HEADERS for name, _ in context.invocation_metadata())


def _with_caller(key, streaming_response: bool, behavior, request_or_iterator, context):
    """Run the handler with `key` as the caller (node/auth/principal.py)."""
    if streaming_response:
        return _as_caller(key, behavior(request_or_iterator, context))
    token = set_caller(key)
    try:
        return behavior(request_or_iterator, context)
    finally:
        reset_caller(token)


def _as_caller(key, responses):
    """A streamed answer produced with `key` as the caller (node/auth/principal.py): gRPC pulls
    it after the handler returned, one message at a time."""
    token = set_caller(key)
    try:
        yield from responses
    finally:
        reset_caller(token)
